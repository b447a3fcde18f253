package keyring_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// TestSubjectLimitsSurviveEviction seals or reserves for two subjects in
// turn from one goroutine, with room for one DEK in the subject cache.
// MaxRecords and MaxBytes must still bound what each DEK seals.
func TestSubjectLimitsSurviveEviction(t *testing.T) {
	const maxRecords, maxBytes = 4, 40
	tests := []struct {
		name string
		use  func(r *keyring.Ring, subject []byte) (dek string, err error)
	}{
		{"seal", func(r *keyring.Ring, subject []byte) (string, error) {
			desc, _, err := r.SealSubject(context.Background(), "patients", subject, envelope.PayloadValue, nil, []byte("0123456789"), binding)
			if err != nil {
				return "", err
			}
			return dekID(t, desc), nil
		}},
		{"reserve", func(r *keyring.Ring, subject []byte) (string, error) {
			res, err := r.ReserveSubject(context.Background(), "patients", subject, 1, 10)
			if err != nil {
				return "", err
			}
			return dekID(t, res.Descriptor(envelope.PayloadValue)), nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(keyring.NewMemoryStore()),
				keyring.SubjectCacheSize(1), keyring.MaxRecords(maxRecords), keyring.MaxBytes(maxBytes))
			uses := map[string]int{}
			for i := range 100 {
				id, err := tc.use(r, fmt.Appendf(nil, "Patient/%d", i%2))
				if err != nil {
					t.Fatalf("call %d err = %v", i, err)
				}
				uses[id]++
			}
			for id, n := range uses {
				if n > maxRecords {
					t.Errorf("DEK %s sealed %d values of 10 bytes, want at most MaxRecords %d and MaxBytes %d", id, n, maxRecords, maxBytes)
				}
			}
			t.Logf("100 calls used %d DEKs", len(uses))
		})
	}
}
