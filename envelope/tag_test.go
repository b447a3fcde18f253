package envelope_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
)

func TestTagRoundTrip(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	b := envelope.Binding{Topic: "fhir", Key: []byte("p1")}
	for _, parts := range [][][]byte{nil, {nil}, {{}}, {[]byte(`{"a":1}`)}, {[]byte("v"), []byte("x-mrn"), []byte("kenv1:AAAA")}} {
		tag := dek.Tag(nil, desc, b, parts...)
		if len(tag) != envelope.TagSize {
			t.Errorf("len(Tag(%d parts)) = %d, want %d", len(parts), len(tag), envelope.TagSize)
		}
		if err := dek.CheckTag(tag, desc, b, parts...); err != nil {
			t.Errorf("CheckTag(Tag(%d parts)) err = %v, want nil", len(parts), err)
		}
	}
}

func TestTagAppendsToDst(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	b := envelope.Binding{Topic: "fhir"}
	out := dek.Tag([]byte("prefix"), desc, b, []byte("v"))
	if !bytes.HasPrefix(out, []byte("prefix")) || len(out) != len("prefix")+envelope.TagSize {
		t.Fatalf("Tag(dst) = %q, want dst followed by %d bytes", out, envelope.TagSize)
	}
	if err := dek.CheckTag(out[len("prefix"):], desc, b, []byte("v")); err != nil {
		t.Errorf("CheckTag() err = %v, want nil", err)
	}
}

func TestTagNoncesDiffer(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	a := dek.Tag(nil, desc, envelope.Binding{Topic: "t"}, []byte("v"))
	b := dek.Tag(nil, desc, envelope.Binding{Topic: "t"}, []byte("v"))
	if bytes.Equal(a, b) {
		t.Fatal("two tags of the same parts are identical: nonce reused")
	}
}

func TestCheckTagRejectsEdits(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	b := envelope.Binding{Topic: "fhir", Key: []byte("p1")}
	parts := [][]byte{[]byte(`{"gender":"female"}`), []byte("x-mrn"), []byte("sealed")}
	tag := dek.Tag(nil, desc, b, parts...)

	otherDesc := bytes.Clone(desc)
	otherDesc[3] = byte(envelope.PayloadJSON)
	flipped := bytes.Clone(tag)
	flipped[len(flipped)-1] ^= 1
	badCheck := bytes.Clone(tag)
	badCheck[0] ^= 1
	cases := []struct {
		name  string
		tag   []byte
		desc  []byte
		b     envelope.Binding
		parts [][]byte
		want  error
	}{
		{"value edited", tag, desc, b, [][]byte{[]byte(`{"gender":"male"}`), parts[1], parts[2]}, envelope.ErrAuth},
		{"part deleted", tag, desc, b, parts[:1], envelope.ErrAuth},
		{"part added", tag, desc, b, append(append([][]byte(nil), parts...), nil), envelope.ErrAuth},
		{"parts split differently", tag, desc, b, [][]byte{parts[0], []byte("x-mrnsealed"), {}}, envelope.ErrAuth},
		{"nil part for empty", dek.Tag(nil, desc, b, []byte{}), desc, b, [][]byte{nil}, envelope.ErrAuth},
		{"parts reordered", tag, desc, b, [][]byte{parts[0], parts[2], parts[1]}, envelope.ErrAuth},
		{"descriptor edited", tag, otherDesc, b, parts, envelope.ErrAuth},
		{"tag edited", flipped, desc, b, parts, envelope.ErrAuth},
		{"check edited", badCheck, desc, b, parts, envelope.ErrAuth},
		{"short tag", tag[:envelope.TagSize-1], desc, b, parts, envelope.ErrAuth},
		{"other topic", tag, desc, envelope.Binding{Topic: "copy", Key: []byte("p1")}, parts, envelope.ErrBindingMismatch},
		{"other key", tag, desc, envelope.Binding{Topic: "fhir", Key: []byte("p2")}, parts, envelope.ErrBindingMismatch},
		{"nil key for empty", dek.Tag(nil, desc, envelope.Binding{Topic: "fhir", Key: []byte{}}), desc, envelope.Binding{Topic: "fhir"}, nil, envelope.ErrBindingMismatch},
		{"other DEK", envelope.NewDEK().Tag(nil, desc, b, parts...), desc, b, parts, envelope.ErrAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := dek.CheckTag(tc.tag, tc.desc, tc.b, tc.parts...)
			if !errors.Is(err, tc.want) {
				t.Errorf("CheckTag() err = %v, want %v", err, tc.want)
			}
		})
	}
}

// A tag and a sealed empty value have the same length and layout, but
// different associated data, so neither passes for the other.
func TestTagIsNotSealedValue(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	b := envelope.Binding{Topic: "fhir", Key: []byte("p1")}
	sealed := dek.Seal(nil, nil, desc, b)
	if err := dek.CheckTag(sealed, desc, b); !errors.Is(err, envelope.ErrAuth) {
		t.Errorf("CheckTag(sealed empty value) err = %v, want ErrAuth", err)
	}
	tag := dek.Tag(nil, desc, b)
	if _, err := dek.Open(nil, tag, desc, b); !errors.Is(err, envelope.ErrAuth) {
		t.Errorf("Open(tag) err = %v, want ErrAuth", err)
	}
}

func TestTagLargeValue(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	b := envelope.Binding{Topic: "fhir"}
	big := bytes.Repeat([]byte{'x'}, 1<<20)
	tag := dek.Tag(nil, desc, b, big)
	if err := dek.CheckTag(tag, desc, b, big); err != nil {
		t.Fatalf("CheckTag(1 MiB part) err = %v, want nil", err)
	}
	big[len(big)/2] = 'y'
	if err := dek.CheckTag(tag, desc, b, big); !errors.Is(err, envelope.ErrAuth) {
		t.Errorf("CheckTag(1 MiB part edited) err = %v, want ErrAuth", err)
	}
}
