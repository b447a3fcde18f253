package keyfile

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestFileRoundTrip checks that parsing testdata/v1.json and encoding it
// again gives the same bytes, so the file format cannot drift unnoticed.
func TestFileRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseFile(data, "testdata/v1.json", "lab-results")
	if err != nil {
		t.Fatalf("parseFile err = %v, want nil", err)
	}
	got, err := encodeFile("lab-results", s)
	if err != nil {
		t.Fatalf("encodeFile err = %v, want nil", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("encodeFile(parseFile(v1.json)) differs from v1.json:\n%s", got)
	}
}

func TestKeyBytesFormat(t *testing.T) {
	key := copyKey([]byte("keyfile-test-secret-key-32-bytes"))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for _, arg := range []any{key, &key} {
			out := fmt.Sprintf(verb, arg)
			leaked := strings.Contains(out, "secret") ||
				strings.Contains(out, hex.EncodeToString(key.bytes())) ||
				strings.Contains(out, "107 101 121") // decimal, as %v prints a []byte
			if leaked {
				t.Errorf("Sprintf(%q, %T) = %q, want no key bytes", verb, arg, out)
			}
		}
	}
}
