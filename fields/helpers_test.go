package fields_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
)

// newCipher returns a RecordCipher under a fresh DEK with a JSON
// descriptor, for topic "t" and key "k".
func newCipher(t testing.TB) *fields.RecordCipher {
	t.Helper()
	d := envelope.Descriptor{Algorithm: envelope.AES256GCM, Scope: envelope.ScopeStream,
		Payload: envelope.PayloadJSON, KEKName: "test", KEKVersion: 1, KeyRef: []byte{1, 2, 3}}
	desc, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &fields.RecordCipher{DEK: envelope.NewDEK(), Descriptor: desc, Topic: "t", Key: []byte("k")}
}

// countingReserve returns a ReserveFunc that hands out c and records what
// it was asked for.
func countingReserve(c fields.Sealer, count, size *int) fields.ReserveFunc {
	return func(n, s int) (fields.Sealer, error) {
		*count, *size = n, s
		return c, nil
	}
}

var markedRE = regexp.MustCompile(`"kenv1:[A-Za-z0-9+/=]+"`)

// masked replaces every marked JSON string in b with "X".
func masked(b []byte) string { return markedRE.ReplaceAllString(string(b), `"X"`) }

func mustSelection(t testing.TB, paths []string, opts ...fields.SelectOpt) *fields.Selection {
	t.Helper()
	s, err := fields.NewSelection(paths, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJSON(t testing.TB, paths []string, opts ...fields.SelectOpt) *fields.JSON {
	t.Helper()
	j, err := fields.NewJSON(mustSelection(t, paths, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func compact(dst *bytes.Buffer, src []byte) error { return json.Compact(dst, src) }
