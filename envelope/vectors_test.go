package envelope_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
)

type vectorFile struct {
	Descriptors []struct {
		Name       string `json:"name"`
		Hex        string `json:"hex"`
		Scope      uint8  `json:"scope"`
		Payload    uint8  `json:"payload"`
		KEKName    string `json:"kek_name"`
		KEKVersion uint32 `json:"kek_version"`
		KeyRefHex  string `json:"key_ref_hex"`
	} `json:"descriptors"`
	Invalid []struct {
		Name string `json:"name"`
		Hex  string `json:"hex"`
	} `json:"invalid_descriptors"`
	Sealed struct {
		DEKHex    string `json:"dek_hex"`
		Topic     string `json:"topic"`
		Key       string `json:"key"`
		Plaintext string `json:"plaintext"`
		SealedHex string `json:"sealed_hex"`
	} `json:"sealed"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	return v
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestDescriptorVectors(t *testing.T) {
	for _, tc := range loadVectors(t).Descriptors {
		t.Run(tc.Name, func(t *testing.T) {
			raw := mustHex(t, tc.Hex)
			d, err := envelope.Parse(raw)
			if err != nil {
				t.Fatalf("Parse() err = %v, want nil", err)
			}
			if d.Scope != envelope.Scope(tc.Scope) || d.Payload != envelope.Payload(tc.Payload) {
				t.Errorf("Parse() scope, payload = %d, %d, want %d, %d", d.Scope, d.Payload, tc.Scope, tc.Payload)
			}
			if d.KEKName != tc.KEKName || d.KEKVersion != tc.KEKVersion {
				t.Errorf("Parse() KEK = %q v%d, want %q v%d", d.KEKName, d.KEKVersion, tc.KEKName, tc.KEKVersion)
			}
			if !bytes.Equal(d.KeyRef, mustHex(t, tc.KeyRefHex)) {
				t.Errorf("Parse() KeyRef = %x, want %s", d.KeyRef, tc.KeyRefHex)
			}
			again, err := d.Marshal()
			if err != nil || !bytes.Equal(again, raw) {
				t.Errorf("Marshal(Parse(b)) = %x, %v, want %x", again, err, raw)
			}
		})
	}
}

func TestDescriptorInvalidVectors(t *testing.T) {
	for _, tc := range loadVectors(t).Invalid {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := envelope.Parse(mustHex(t, tc.Hex))
			if !errors.Is(err, envelope.ErrInvalidDescriptor) {
				t.Fatalf("Parse() err = %v, want ErrInvalidDescriptor", err)
			}
		})
	}
}

func TestDescriptorUnknownVersion(t *testing.T) {
	_, err := envelope.Parse([]byte{2, 1, 1, 1, 0, 1, 'k', 0, 0, 0, 0, 0, 1, 0xff})
	if !errors.Is(err, envelope.ErrUnsupportedVersion) {
		t.Fatalf("Parse(version 2) err = %v, want ErrUnsupportedVersion", err)
	}
}

func TestSealedVector(t *testing.T) {
	v := loadVectors(t)
	dek, err := envelope.NewDEKFromBytes(mustHex(t, v.Sealed.DEKHex))
	if err != nil {
		t.Fatal(err)
	}
	desc := mustHex(t, v.Descriptors[0].Hex)
	b := envelope.Binding{Topic: v.Sealed.Topic, Key: []byte(v.Sealed.Key)}
	got, err := dek.Open(nil, mustHex(t, v.Sealed.SealedHex), desc, b)
	if err != nil {
		t.Fatalf("Open(frozen vector) err = %v, want nil", err)
	}
	if string(got) != v.Sealed.Plaintext {
		t.Fatalf("Open(frozen vector) = %q, want %q", got, v.Sealed.Plaintext)
	}
}

// FuzzParse checks that Parse never panics, that every rejection is an
// ErrInvalidDescriptor, and that whatever it accepts re-encodes to the same
// bytes.
func FuzzParse(f *testing.F) {
	v := loadVectors(f)
	for _, d := range v.Descriptors {
		f.Add(mustHex(f, d.Hex))
	}
	for _, d := range v.Invalid {
		f.Add(mustHex(f, d.Hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := envelope.Parse(b)
		if err != nil {
			if !errors.Is(err, envelope.ErrInvalidDescriptor) {
				t.Fatalf("Parse(%x) err = %v, want ErrInvalidDescriptor", b, err)
			}
			return
		}
		again, err := d.Marshal()
		if err != nil {
			t.Fatalf("Marshal(Parse(%x)) err = %v", b, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("Marshal(Parse(%x)) = %x, want identical bytes", b, again)
		}
	})
}
