package envelope_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
)

// validDescriptor returns a stream-scope descriptor with a 61-byte EDEK,
// the size the key file backend produces.
func validDescriptor(t *testing.T) []byte {
	t.Helper()
	d := envelope.Descriptor{Algorithm: envelope.AES256GCM, Scope: envelope.ScopeStream,
		Payload: envelope.PayloadValue, KEKName: "patients", KEKVersion: 7, KeyRef: bytes.Repeat([]byte{0xe5}, 61)}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseEveryTruncation(t *testing.T) {
	b := validDescriptor(t)
	for n := range len(b) {
		if _, err := envelope.Parse(b[:n]); !errors.Is(err, envelope.ErrInvalidDescriptor) {
			t.Errorf("Parse(first %d of %d bytes) err = %v, want ErrInvalidDescriptor", n, len(b), err)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	base := validDescriptor(t)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(base)) }
	cases := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"zero version", edit(func(b []byte) []byte { b[0] = 0; return b })},
		{"version 255", edit(func(b []byte) []byte { b[0] = 255; return b })},
		{"zero algorithm", edit(func(b []byte) []byte { b[1] = 0; return b })},
		{"algorithm 2", edit(func(b []byte) []byte { b[1] = 2; return b })},
		{"zero scope", edit(func(b []byte) []byte { b[2] = 0; return b })},
		{"zero payload", edit(func(b []byte) []byte { b[3] = 0; return b })},
		{"payload 6", edit(func(b []byte) []byte { b[3] = 6; return b })},
		{"flags set", edit(func(b []byte) []byte { b[4] = 0x80; return b })},
		{"zero name length", edit(func(b []byte) []byte { b[5] = 0; return b })},
		{"name length 255", edit(func(b []byte) []byte { b[5] = 255; return b })},
		{"name with space", edit(func(b []byte) []byte { b[7] = ' '; return b })},
		{"name with NUL", edit(func(b []byte) []byte { b[7] = 0; return b })},
		{"key ref length 0xffff", edit(func(b []byte) []byte { b[6+8+4], b[6+8+5] = 0xff, 0xff; return b })},
		{"key ref length 0", edit(func(b []byte) []byte {
			b[6+8+4], b[6+8+5] = 0, 0
			return b[:6+8+6]
		})},
		{"trailing byte", append(bytes.Clone(base), 0)},
		{"oversized", append(bytes.Clone(base), make([]byte, 1<<20)...)},
		{"subject id 15 bytes", func() []byte {
			b := edit(func(b []byte) []byte { b[2] = byte(envelope.ScopeSubject); return b[:6+8+6] })
			b[6+8+4], b[6+8+5] = 0, 15
			return append(b, make([]byte, 15)...)
		}()},
		{"edek 2049 bytes", func() []byte {
			b := edit(func(b []byte) []byte { return b[:6+8+6] })
			b[6+8+4], b[6+8+5] = 0x08, 0x01
			return append(b, make([]byte, 2049)...)
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := envelope.Parse(tc.b)
			if !errors.Is(err, envelope.ErrInvalidDescriptor) {
				t.Fatalf("Parse(%s) = %+v, %v, want ErrInvalidDescriptor", tc.name, d, err)
			}
			if d.KeyRef != nil || d.KEKName != "" {
				t.Errorf("Parse(%s) returned a partly filled Descriptor on error", tc.name)
			}
		})
	}
}

// TestOpenTamperedCheckAndValue edits the binding check and a
// ciphertext byte together: the result must still be ErrAuth.
func TestOpenTamperedCheckAndValue(t *testing.T) {
	dek := envelope.NewDEK()
	desc := validDescriptor(t)
	b := envelope.Binding{Topic: "fhir", Key: []byte("p1")}
	sealed := dek.Seal(nil, []byte("value"), desc, b)
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := dek.Open(nil, bad, desc, b); !errors.Is(err, envelope.ErrAuth) {
			t.Fatalf("Open(byte %d flipped) err = %v, want ErrAuth", i, err)
		}
	}
	// A descriptor edit in the key reference is not authenticated by
	// design; a different EDEK selects another DEK, so only the DEK
	// check protects it. Document the outcome here.
	badDesc := bytes.Clone(desc)
	badDesc[len(badDesc)-1] ^= 1
	if _, err := dek.Open(nil, sealed, badDesc, b); err != nil {
		t.Logf("Open(key reference edited, same DEK) err = %v", err)
	}
}
