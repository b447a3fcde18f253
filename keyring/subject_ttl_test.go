package keyring_test

import (
	"context"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// SubjectCacheTTL accepts any positive duration. With a tiny TTL every
// seal revalidates against the store, which must still succeed.
func TestSealSubjectTinyTTL(t *testing.T) {
	for _, ttl := range []time.Duration{time.Nanosecond, time.Microsecond, time.Millisecond} {
		t.Run(ttl.String(), func(t *testing.T) {
			r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(keyring.NewMemoryStore()), keyring.SubjectCacheTTL(ttl))
			for i := range 50 {
				if _, _, err := r.SealSubject(context.Background(), "patients", []byte("Patient/1"), envelope.PayloadValue, nil, []byte("v"), binding); err != nil {
					t.Fatalf("seal %d: SealSubject err = %v", i, err)
				}
			}
		})
	}
}
