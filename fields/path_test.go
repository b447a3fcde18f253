package fields_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/kenvelope/kenvelope/fields"
)

func TestParseValid(t *testing.T) {
	m := func(name string) fields.Segment { return fields.Segment{Kind: fields.Member, Name: name} }
	idx := func(i int) fields.Segment { return fields.Segment{Kind: fields.Index, Index: i} }
	anyIdx := fields.Segment{Kind: fields.AnyIndex}
	anyMem := fields.Segment{Kind: fields.AnyMember}
	tests := []struct {
		in   string
		want []fields.Segment
		text string
	}{
		{"birthDate", []fields.Segment{m("birthDate")}, "birthDate"},
		{"name[*].given", []fields.Segment{m("name"), anyIdx, m("given")}, "name[*].given"},
		{"contact[10].telecom[0]", []fields.Segment{m("contact"), idx(10), m("telecom"), idx(0)}, "contact[10].telecom[0]"},
		{"[0].id", []fields.Segment{idx(0), m("id")}, "[0].id"},
		{"extension.*", []fields.Segment{m("extension"), anyMem}, "extension.*"},
		{`a\.b.c`, []fields.Segment{m("a.b"), m("c")}, `a\.b.c`},
		{`x\[1\]`, []fields.Segment{m("x[1]")}, `x\[1\]`},
		{`back\\slash`, []fields.Segment{m(`back\slash`)}, `back\\slash`},
		{`\*`, []fields.Segment{m("*")}, `\*`},
		{"prénom.名前", []fields.Segment{m("prénom"), m("名前")}, "prénom.名前"},
		{"with space", []fields.Segment{m("with space")}, "with space"},
		{"a*b", []fields.Segment{m("a*b")}, "a*b"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := fields.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q) err = %v", tc.in, err)
			}
			if !reflect.DeepEqual(p.Segments(), tc.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.in, p.Segments(), tc.want)
			}
			if p.String() != tc.text {
				t.Errorf("Parse(%q).String() = %q, want %q", tc.in, p.String(), tc.text)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in     string
		offset int
	}{
		{"", 0},
		{".a", 0},
		{"a.", 2},
		{"a..b", 2},
		{"a[", 2},
		{"a[]", 2},
		{"a[01]", 2},
		{"a[-1]", 2},
		{"a[x]", 2},
		{"a[99999999999]", 2},
		{"a]", 1},
		{"a[0]b", 4},
		{`a\q`, 1},
		{`a\`, 1},
		{"a\xff", 1},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := fields.Parse(tc.in)
			var se *fields.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) err = %v, want *SyntaxError", tc.in, err)
			}
			if se.Offset != tc.offset {
				t.Errorf("Parse(%q) offset = %d, want %d (%v)", tc.in, se.Offset, tc.offset, err)
			}
			if !errors.Is(err, fields.ErrConfig) {
				t.Errorf("Parse(%q) err = %v, want ErrConfig", tc.in, err)
			}
		})
	}
}

func TestSelectionOverlap(t *testing.T) {
	tests := []struct {
		paths   []string
		overlap bool
	}{
		{[]string{"name", "name"}, true},
		{[]string{"name", "name[0].given"}, true},
		{[]string{"name[*]", "name[1]"}, true},
		{[]string{"name[*].given", "name[0].given"}, true},
		{[]string{"a.*", "a.b.c"}, true},
		{[]string{"name[0]", "name[1]"}, false},
		{[]string{"name[*].given", "name[*].family"}, false},
		{[]string{"a.b", "a.c"}, false},
		{[]string{"a[0]", "a.b"}, false},
		{[]string{`a\.b`, "a.b"}, false},
	}
	for _, tc := range tests {
		_, err := fields.NewSelection(tc.paths)
		if got := err != nil; got != tc.overlap {
			t.Errorf("NewSelection(%q) err = %v, want overlap %v", tc.paths, err, tc.overlap)
		}
		if err != nil && !errors.Is(err, fields.ErrConfig) {
			t.Errorf("NewSelection(%q) err = %v, want ErrConfig", tc.paths, err)
		}
	}
}

func TestSelectionOptionalUnknown(t *testing.T) {
	_, err := fields.NewSelection([]string{"a"}, fields.Optional("b"))
	if !errors.Is(err, fields.ErrConfig) {
		t.Fatalf("NewSelection(Optional(unknown)) err = %v, want ErrConfig", err)
	}
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"a.b", "name[*].given", `a\.b\[\]\\`, `\*`, "[3].*", "prénom"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := fields.Parse(s)
		if err != nil {
			return
		}
		q, err := fields.Parse(p.String())
		if err != nil {
			t.Fatalf("Parse(%q) err = %v for the canonical form of %q", p.String(), err, s)
		}
		if !reflect.DeepEqual(p.Segments(), q.Segments()) {
			t.Fatalf("Parse(Format(%q)) = %+v, want %+v", s, q.Segments(), p.Segments())
		}
	})
}
