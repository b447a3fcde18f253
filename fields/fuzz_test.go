package fields_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/kenvelope/kenvelope/fields"
)

// FuzzJSON checks that Decrypt never panics on any input, and that for
// any JSON document Encrypt followed by Decrypt gives back the document
// with each selected value compacted.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":[1, 2],"b":[{"c":"x"}]}`, `[{"a":null}]`, `{"a":"kenv1:AAAA"}`,
		`{"b":[ {"c" : "\u006benv1:"} ]}`, `{"a":{"a":{"a":1}}}`, `"kenv1:x"`, `{"a\\u002e":true}`} {
		f.Add([]byte(s))
	}
	sel := mustSelection(f, []string{"a", "b[*].c"}, fields.AllOptional())
	j, err := fields.NewJSON(sel)
	if err != nil {
		f.Fatal(err)
	}
	c := newCipher(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		_, _ = j.Decrypt(src, c)
		var n, s int
		enc, err := j.Encrypt(src, countingReserve(c, &n, &s))
		if err != nil {
			if !errors.Is(err, fields.ErrInvalidRecord) && !errors.Is(err, fields.ErrMarkerInClear) {
				t.Fatalf("Encrypt(%q) err = %v, want ErrInvalidRecord or ErrMarkerInClear", src, err)
			}
			return
		}
		dec, err := j.Decrypt(enc, c)
		if err != nil {
			t.Fatalf("Decrypt(Encrypt(%q)) err = %v", src, err)
		}
		var want, got bytes.Buffer
		if json.Compact(&want, src) != nil || json.Compact(&got, dec) != nil || !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("round trip of %q = %q", src, dec)
		}
	})
}
