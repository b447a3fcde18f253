package tokens_test

import (
	"bytes"
	"testing"

	"github.com/kenvelope/kenvelope/tokens"
)

// BenchmarkToken measures one record key, a 36-byte patient UUID, per
// operation.
func BenchmarkToken(b *testing.B) {
	key := []byte("ee9f8dd8-72d2-4769-8020-89e504b1504b")
	siv, err := tokens.NewSIVFromKey(bytes.Repeat([]byte{7}, tokens.SIVKeySize))
	if err != nil {
		b.Fatal(err)
	}
	h, err := tokens.NewHMAC(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := siv.Token(key)
	for _, tc := range []struct {
		name string
		fn   func() ([]byte, error)
	}{
		{"siv-token", func() ([]byte, error) { return siv.Token(key) }},
		{"siv-key", func() ([]byte, error) { return siv.Key(tok) }},
		{"hmac-token", func() ([]byte, error) { return h.Token(key) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
