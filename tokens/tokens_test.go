package tokens_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/kenvelope/kenvelope/tokens"
)

func newSIV(t *testing.T, opts ...tokens.Opt) *tokens.SIV {
	t.Helper()
	s, err := tokens.NewSIVFromKey(bytes.Repeat([]byte{7}, tokens.SIVKeySize), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSIVDeterministicRoundTrip(t *testing.T) {
	s := newSIV(t)
	for _, key := range [][]byte{[]byte("patient-123"), {}, bytes.Repeat([]byte{0}, 1000)} {
		a, err := s.Token(key)
		if err != nil {
			t.Fatalf("Token() err = %v", err)
		}
		b, _ := s.Token(key)
		if !bytes.Equal(a, b) {
			t.Errorf("Token(%d bytes) differs between calls", len(key))
		}
		if len(a) != len(key)+16 {
			t.Errorf("len(Token) = %d, want %d", len(a), len(key)+16)
		}
		got, err := s.Key(a)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("Key(Token(k)) = %x, err %v; want %x", got, err, key)
		}
		// bytes.Equal treats nil and empty alike, but Kafka does not.
		if (got == nil) != (key == nil) {
			t.Errorf("Key(Token(%d bytes)) nil = %v, want %v", len(key), got == nil, key == nil)
		}
	}
}

func TestSIVContextSeparates(t *testing.T) {
	a, _ := newSIV(t, tokens.Context("tenant-a")).Token([]byte("k"))
	b := newSIV(t, tokens.Context("tenant-b"))
	bt, _ := b.Token([]byte("k"))
	if bytes.Equal(a, bt) {
		t.Fatal("tokens under two contexts are equal")
	}
	if _, err := b.Key(a); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("Key(token of another context) err = %v, want ErrInvalidToken", err)
	}
}

func TestSIVKeyset(t *testing.T) {
	h, err := keyset.NewHandle(daead.AESSIVKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	s, err := tokens.NewSIV(h)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s.Token([]byte("k"))
	if len(tok) != 1+16+5 {
		t.Errorf("len(Token) = %d, want 22 (Tink prefix, SIV, key)", len(tok))
	}
	if k, err := s.Key(tok); err != nil || string(k) != "k" {
		t.Errorf("Key() = %q, err %v; want k", k, err)
	}
	if _, err := s.Key(tok[:10]); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("Key(truncated) err = %v, want ErrInvalidToken", err)
	}
}

func TestSIVKeySize(t *testing.T) {
	if _, err := tokens.NewSIVFromKey(make([]byte, 32)); err == nil {
		t.Fatal("NewSIVFromKey(32 bytes) err = nil, want an error")
	}
}

func TestHMAC(t *testing.T) {
	h, err := tokens.NewHMAC(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := h.Token([]byte("patient-123"))
	b, _ := h.Token([]byte("patient-123"))
	c, _ := h.Token([]byte("patient-124"))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) != 32 {
		t.Errorf("Token: equal keys equal %v, distinct keys distinct %v, len %d", bytes.Equal(a, b), !bytes.Equal(a, c), len(a))
	}
	if h.Reversible() {
		t.Error("Reversible() = true, want false")
	}
	if _, err := h.Key(a); !errors.Is(err, tokens.ErrIrreversible) {
		t.Errorf("Key() err = %v, want ErrIrreversible", err)
	}
	if _, err := tokens.NewHMAC(make([]byte, 16)); err == nil {
		t.Error("NewHMAC(16 bytes) err = nil, want an error")
	}
}

func TestHMACRedacted(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	h, _ := tokens.NewHMAC(key)
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%s"} {
		for _, v := range []any{h, *h} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, "abab") || strings.Contains(out, "171") {
				t.Errorf("Sprintf(%s) = %q, contains key bytes", verb, out)
			}
		}
	}
}
