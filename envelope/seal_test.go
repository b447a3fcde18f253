package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
)

func testDescriptor(t *testing.T) []byte {
	t.Helper()
	d := envelope.Descriptor{Algorithm: envelope.AES256GCM, Scope: envelope.ScopeStream,
		Payload: envelope.PayloadValue, KEKName: "patients", KEKVersion: 3, KeyRef: []byte("wrapped")}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	b := envelope.Binding{Topic: "fhir", Key: []byte("p1")}
	for _, n := range []int{0, 1, 100, 1024, 16384} {
		pt := bytes.Repeat([]byte{'x'}, n)
		sealed := dek.Seal(nil, pt, desc, b)
		if len(sealed) != envelope.SealedLen(n) {
			t.Errorf("len(Seal(%d bytes)) = %d, want %d", n, len(sealed), envelope.SealedLen(n))
		}
		got, err := dek.Open(nil, sealed, desc, b)
		if err != nil {
			t.Fatalf("Open(%d bytes) err = %v", n, err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open(Seal(%d bytes)) differs from the plaintext", n)
		}
	}
}

func TestSealNoncesDiffer(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	a := dek.Seal(nil, []byte("same"), desc, envelope.Binding{Topic: "t"})
	b := dek.Seal(nil, []byte("same"), desc, envelope.Binding{Topic: "t"})
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical: nonce reused")
	}
}

func TestOpenBindingMismatch(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	orig := envelope.Binding{Topic: "fhir", Key: []byte{}}
	sealed := dek.Seal(nil, []byte("value"), desc, orig)
	cases := []struct {
		name string
		b    envelope.Binding
	}{
		{"other topic", envelope.Binding{Topic: "fhir-copy", Key: []byte{}}},
		{"other key", envelope.Binding{Topic: "fhir", Key: []byte("p2")}},
		{"nil key for empty key", envelope.Binding{Topic: "fhir", Key: nil}},
		{"other path", envelope.Binding{Topic: "fhir", Key: []byte{}, Path: "name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dek.Open(nil, sealed, desc, tc.b)
			if !errors.Is(err, envelope.ErrBindingMismatch) {
				t.Fatalf("Open() err = %v, want ErrBindingMismatch", err)
			}
			if !errors.Is(err, envelope.ErrAuth) {
				t.Fatalf("Open() err = %v, want it to wrap ErrAuth", err)
			}
		})
	}
}

func TestOpenTamperedEveryByte(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	b := envelope.Binding{Topic: "fhir", Key: []byte("p1")}
	sealed := dek.Seal(nil, []byte("lab result 42"), desc, b)
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := dek.Open(nil, bad, desc, b); !errors.Is(err, envelope.ErrAuth) {
			t.Errorf("Open(value with byte %d flipped) err = %v, want ErrAuth", i, err)
		}
	}
	keyRefLen := len("wrapped")
	for i := range desc[:len(desc)-keyRefLen] {
		bad := bytes.Clone(desc)
		bad[i] ^= 0x01
		_, err := dek.Open(nil, sealed, bad, b)
		if !errors.Is(err, envelope.ErrAuth) || errors.Is(err, envelope.ErrBindingMismatch) {
			t.Errorf("Open(descriptor with byte %d flipped) err = %v, want ErrAuth only", i, err)
		}
	}
}

func TestOpenClearsOutputOnFailure(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	b := envelope.Binding{Topic: "fhir"}
	sealed := dek.Seal(nil, []byte("secret lab value"), desc, b)
	sealed[len(sealed)-1] ^= 1

	buf := make([]byte, 0, 64)
	out, err := dek.Open(buf, sealed, desc, b)
	if !errors.Is(err, envelope.ErrAuth) || out != nil {
		t.Fatalf("Open(tampered) = %q, %v, want nil, ErrAuth", out, err)
	}
	if tail := buf[:cap(buf)]; bytes.Contains(tail, []byte("secret")) {
		t.Fatal("Open(tampered) left plaintext in the output buffer")
	}
}

func TestOpenShortValue(t *testing.T) {
	dek := envelope.NewDEK()
	_, err := dek.Open(nil, make([]byte, envelope.Overhead-1), testDescriptor(t), envelope.Binding{})
	if !errors.Is(err, envelope.ErrShortValue) {
		t.Fatalf("Open(short) err = %v, want ErrShortValue", err)
	}
}

func TestOpenWrongDEK(t *testing.T) {
	desc := testDescriptor(t)
	sealed := envelope.NewDEK().Seal(nil, []byte("v"), desc, envelope.Binding{Topic: "t"})
	_, err := envelope.NewDEK().Open(nil, sealed, desc, envelope.Binding{Topic: "t"})
	if !errors.Is(err, envelope.ErrAuth) || errors.Is(err, envelope.ErrBindingMismatch) {
		t.Fatalf("Open(other DEK) err = %v, want ErrAuth only", err)
	}
}

func TestDEKNeverPrintsKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, envelope.KeySize)
	dek, err := envelope.NewDEKFromBytes(key)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := fmt.Errorf("sealing failed with %v", dek)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for _, arg := range []any{dek, *dek, wrapped} {
			out := fmt.Sprintf(verb, arg)
			if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171, 171") || strings.Contains(out, string(key)) {
				t.Errorf("Sprintf(%q, DEK) = %q, leaks key bytes", verb, out)
			}
		}
	}
}

func TestNewDEKFromBytesLength(t *testing.T) {
	_, err := envelope.NewDEKFromBytes(make([]byte, 16))
	var kse envelope.KeySizeError
	if !errors.As(err, &kse) || int(kse) != 16 {
		t.Fatalf("NewDEKFromBytes(16 bytes) err = %v, want KeySizeError(16)", err)
	}
}

func TestDEKConcurrentSeal(t *testing.T) {
	dek := envelope.NewDEK()
	desc := testDescriptor(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := envelope.Binding{Topic: "t", Key: []byte{byte(g)}}
			for i := 0; i < 200; i++ {
				s := dek.Seal(nil, []byte("v"), desc, b)
				if _, err := dek.Open(nil, s, desc, b); err != nil {
					t.Errorf("Open() err = %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
