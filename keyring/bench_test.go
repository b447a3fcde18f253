package keyring_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kms"
)

var benchSizes = []int{100, 1024, 16384}

// BenchmarkSeal compares the keyring's hot path with a bare crypto/cipher
// AES-256-GCM seal of the same value, in the same run. "bare" draws a
// random nonce for each seal, as any safe use of one key for many values
// must. "bare-fixed-nonce" skips that and is a lower bound only.
func BenchmarkSeal(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	randomGCM, _ := cipher.NewGCMWithRandomNonce(block)
	ring := newRing(b, []kms.KEK{newKEK(b, "patients")})
	bind := envelope.Binding{Topic: "fhir.observation", Key: []byte("patient-0001")}

	for _, n := range benchSizes {
		pt := make([]byte, n)
		desc, _, err := ring.Seal(context.Background(), "patients", envelope.PayloadValue, nil, pt, bind)
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]byte, 0, envelope.SealCap(n, desc, bind))
		nonce := make([]byte, 12)
		ad := make([]byte, 0, 512)

		b.Run(fmt.Sprintf("bare-fixed-nonce/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				gcm.Seal(dst[:0], nonce, pt, ad)
			}
		})
		b.Run(fmt.Sprintf("bare/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				randomGCM.Seal(dst[:0], nil, pt, ad)
			}
		})
		b.Run(fmt.Sprintf("keyring/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, _, err := ring.Seal(ctx, "patients", envelope.PayloadValue, dst[:0], pt, bind); err != nil {
					b.Fatal(err)
				}
			}
		})
		// keyring-alloc lets Seal allocate the output, as the producer does.
		b.Run(fmt.Sprintf("keyring-alloc/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, _, err := ring.Seal(ctx, "patients", envelope.PayloadValue, nil, pt, bind); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
