package fields_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
)

func TestJSONRoundTripTypes(t *testing.T) {
	src := `{ "s" : "Doe",  "n": 1.50, "b": true, "o": {"x": [1, 2] , "y":null}, "a": [ "p", {"q":1} ], "z": null, "keep": "kenv\u0032:not a marker", "e": 1e3 }`
	paths := []string{"s", "n", "b", "o", "a", "z"}
	c := newCipher(t)
	var count, size int
	j := mustJSON(t, paths)
	enc, err := j.Encrypt([]byte(src), countingReserve(c, &count, &size))
	if err != nil {
		t.Fatalf("Encrypt() err = %v", err)
	}
	if count != len(paths) {
		t.Errorf("reserved %d values, want %d", count, len(paths))
	}
	want := `{ "s" : "X",  "n": "X", "b": "X", "o": "X", "a": "X", "z": "X", "keep": "kenv\u0032:not a marker", "e": 1e3 }`
	if got := masked(enc); got != want {
		t.Errorf("Encrypt() = %s\nwant (masked)  %s", got, want)
	}
	dec, err := j.Decrypt(enc, c)
	if err != nil {
		t.Fatalf("Decrypt() err = %v", err)
	}
	wantDec := `{ "s" : "Doe",  "n": 1.50, "b": true, "o": {"x":[1,2],"y":null}, "a": ["p",{"q":1}], "z": null, "keep": "kenv\u0032:not a marker", "e": 1e3 }`
	if string(dec) != wantDec {
		t.Errorf("Decrypt() = %s\nwant %s", dec, wantDec)
	}
}

func TestJSONWildcardsAndEscapes(t *testing.T) {
	src := `{"name":[{"given":["A","B"],"use":"official"},{"given":["C"],"use":"nick"}],"a.b":{"[x]":"v"},"prénom":"É","k":{"m1":1,"m2":2}}`
	j := mustJSON(t, []string{"name[*].given[*]", `a\.b.\[x\]`, "prénom", "k.*"})
	c := newCipher(t)
	var count, size int
	enc, err := j.Encrypt([]byte(src), countingReserve(c, &count, &size))
	if err != nil {
		t.Fatalf("Encrypt() err = %v", err)
	}
	if count != 7 {
		t.Errorf("reserved %d values, want 7", count)
	}
	want := `{"name":[{"given":["X","X"],"use":"official"},{"given":["X"],"use":"nick"}],"a.b":{"[x]":"X"},"prénom":"X","k":{"m1":"X","m2":"X"}}`
	if got := masked(enc); got != want {
		t.Errorf("Encrypt() = %s\nwant %s", got, want)
	}
	dec, err := j.Decrypt(enc, c)
	if err != nil {
		t.Fatalf("Decrypt() err = %v", err)
	}
	if string(dec) != src {
		t.Errorf("Decrypt() = %s, want %s", dec, src)
	}
}

func TestJSONPathBinding(t *testing.T) {
	c := newCipher(t)
	j := mustJSON(t, []string{"a", "b"})
	var n, s int
	enc, err := j.Encrypt([]byte(`{"a":"one","b":"two"}`), countingReserve(c, &n, &s))
	if err != nil {
		t.Fatal(err)
	}
	// Swap the two ciphertexts: each now sits under the other's path.
	ms := markedRE.FindAll(enc, -1)
	swapped := []byte(`{"a":` + string(ms[1]) + `,"b":` + string(ms[0]) + `}`)
	_, err = j.Decrypt(swapped, c)
	if !errors.Is(err, envelope.ErrBindingMismatch) {
		t.Fatalf("Decrypt(swapped) err = %v, want ErrBindingMismatch", err)
	}
	var fe *fields.FieldError
	if !errors.As(err, &fe) || fe.Path != "a" {
		t.Errorf("Decrypt(swapped) err = %v, want a *FieldError for path a", err)
	}
}

func TestJSONArrayIndexBinding(t *testing.T) {
	c := newCipher(t)
	j := mustJSON(t, []string{"x[*]"})
	var n, s int
	enc, err := j.Encrypt([]byte(`{"x":["one","two"]}`), countingReserve(c, &n, &s))
	if err != nil {
		t.Fatal(err)
	}
	ms := markedRE.FindAll(enc, -1)
	swapped := []byte(`{"x":[` + string(ms[1]) + `,` + string(ms[0]) + `]}`)
	_, err = j.Decrypt(swapped, c)
	if !errors.Is(err, envelope.ErrBindingMismatch) || !strings.Contains(err.Error(), `"x[0]"`) {
		t.Fatalf("Decrypt(swapped) err = %v, want ErrBindingMismatch on x[0]", err)
	}
}

func TestJSONMissingPath(t *testing.T) {
	c := newCipher(t)
	var n, s int
	tests := []struct {
		name string
		j    *fields.JSON
		src  string
		want error
	}{
		{"required absent", mustJSON(t, []string{"a", "b"}), `{"a":1}`, fields.ErrMissingField},
		{"wildcard over empty", mustJSON(t, []string{"n[*].g"}), `{"n":[]}`, fields.ErrMissingField},
		{"wrong type", mustJSON(t, []string{"n.g"}), `{"n":[{"g":1}]}`, fields.ErrMissingField},
		{"optional absent", mustJSON(t, []string{"a", "b"}, fields.Optional("b")), `{"a":1}`, nil},
		{"all optional", mustJSON(t, []string{"a", "b"}, fields.AllOptional()), `{}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.j.Encrypt([]byte(tc.src), countingReserve(c, &n, &s))
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("Encrypt(%s) err = %v, want %v", tc.src, err, tc.want)
			}
		})
	}
}

func TestJSONNullPolicy(t *testing.T) {
	c := newCipher(t)
	var n, s int
	src := []byte(`{"a":null}`)
	sel := mustSelection(t, []string{"a"})

	keep, _ := fields.NewJSON(sel, fields.Nulls(fields.KeepNull))
	out, err := keep.Encrypt(src, countingReserve(c, &n, &s))
	if err != nil || string(out) != string(src) || n != 0 {
		t.Errorf("KeepNull Encrypt() = %s, %d sealed, err %v; want unchanged", out, n, err)
	}
	if dec, err := keep.Decrypt(out, c); err != nil || string(dec) != string(src) {
		t.Errorf("KeepNull Decrypt() = %s, err %v; want unchanged", dec, err)
	}

	reject, _ := fields.NewJSON(sel, fields.Nulls(fields.RejectNull))
	if _, err := reject.Encrypt(src, countingReserve(c, &n, &s)); !errors.Is(err, fields.ErrNullField) {
		t.Errorf("RejectNull Encrypt() err = %v, want ErrNullField", err)
	}

	enc, _ := fields.NewJSON(sel)
	out, err = enc.Encrypt(src, countingReserve(c, &n, &s))
	if err != nil || masked(out) != `{"a":"X"}` {
		t.Errorf("EncryptNull Encrypt() = %s, err %v; want a sealed null", out, err)
	}
	if dec, err := enc.Decrypt(out, c); err != nil || string(dec) != string(src) {
		t.Errorf("EncryptNull Decrypt() = %s, err %v; want %s", dec, err, src)
	}
}

func TestJSONBadInput(t *testing.T) {
	c := newCipher(t)
	var n, s int
	j := mustJSON(t, []string{"a"}, fields.Optional("a"))
	if _, err := j.Encrypt([]byte(`{"a":`), countingReserve(c, &n, &s)); !errors.Is(err, fields.ErrInvalidRecord) {
		t.Errorf("Encrypt(truncated) err = %v, want ErrInvalidRecord", err)
	}
	if _, err := j.Decrypt([]byte(`not json`), c); !errors.Is(err, fields.ErrInvalidRecord) {
		t.Errorf("Decrypt(not json) err = %v, want ErrInvalidRecord", err)
	}
	tests := []struct {
		name, src, path string
		want            error
	}{
		{"bad base64", `{"a":"kenv1:!!!"}`, "a", fields.ErrBadMarker},
		{"short", `{"a":"kenv1:AAAA"}`, "a", fields.ErrBadMarker},
		// Member names that no path names are record data, shown as "*".
		{"marker elsewhere", `{"b":[{"c":"kenv1:AAAA"}]}`, "*[0].*", fields.ErrBadMarker},
		{"clear selected", `{"a":"plain"}`, "a", fields.ErrNotEncrypted},
		{"tampered", `{"a":"kenv1:` + strings.Repeat("A", 64) + `"}`, "a", envelope.ErrAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := j.Decrypt([]byte(tc.src), c)
			var fe *fields.FieldError
			if !errors.As(err, &fe) || fe.Path != tc.path {
				t.Fatalf("Decrypt(%s) err = %v, want a *FieldError on %q", tc.src, err, tc.path)
			}
			if tc.want != fields.ErrNotEncrypted && !errors.Is(err, tc.want) {
				t.Errorf("Decrypt(%s) err = %v, want %v", tc.src, err, tc.want)
			}
		})
	}
}

func TestJSONMarkerInClear(t *testing.T) {
	c := newCipher(t)
	var n, s int
	j := mustJSON(t, []string{"a"})
	for _, src := range []string{`{"a":1,"b":"kenv1:x"}`, `{"a":1,"b":["\u006benv1:x"]}`} {
		_, err := j.Encrypt([]byte(src), countingReserve(c, &n, &s))
		if !errors.Is(err, fields.ErrMarkerInClear) {
			t.Errorf("Encrypt(%s) err = %v, want ErrMarkerInClear", src, err)
		}
	}
}

func TestJSONUnselectedMarkerOpens(t *testing.T) {
	c := newCipher(t)
	var n, s int
	wide := mustJSON(t, []string{"a", "b"})
	enc, err := wide.Encrypt([]byte(`{"a":"1","b":"2"}`), countingReserve(c, &n, &s))
	if err != nil {
		t.Fatal(err)
	}
	// A consumer that selects fewer fields still opens every sealed one.
	narrow := mustJSON(t, []string{"a"})
	dec, err := narrow.Decrypt(enc, c)
	if err != nil || string(dec) != `{"a":"1","b":"2"}` {
		t.Fatalf("Decrypt() = %s, err %v; want both fields opened", dec, err)
	}
}

func TestJSONEscapedSlashMarker(t *testing.T) {
	c := newCipher(t)
	var n, s int
	j := mustJSON(t, []string{"a"})
	enc, err := j.Encrypt([]byte(`{"a":"some value that is long enough to get a slash ??>>"}`), countingReserve(c, &n, &s))
	if err != nil {
		t.Fatal(err)
	}
	// Some JSON writers escape '/' as "\/"; the marker still opens.
	escaped := bytes.ReplaceAll(enc, []byte("/"), []byte(`\/`))
	dec, err := j.Decrypt(escaped, c)
	if err != nil || !bytes.Contains(dec, []byte("long enough")) {
		t.Fatalf("Decrypt(escaped) = %s, err %v", dec, err)
	}
}

func TestJSONEmptyMemberName(t *testing.T) {
	c := newCipher(t)
	var n, s int
	j := mustJSON(t, []string{"*"})
	enc, err := j.Encrypt([]byte(`{"":1,"a":2}`), countingReserve(c, &n, &s))
	if err != nil || n != 2 {
		t.Fatalf("Encrypt() sealed %d, err %v; want 2", n, err)
	}
	dec, err := j.Decrypt(enc, c)
	if err != nil || string(dec) != `{"":1,"a":2}` {
		t.Fatalf("Decrypt() = %s, err %v", dec, err)
	}
	if got := fields.FormatSegments([]fields.Segment{{Kind: fields.Member, Name: ""}}); got != `\0` {
		t.Errorf("FormatSegments(empty name) = %q, want \\0", got)
	}
}
