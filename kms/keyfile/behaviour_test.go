package keyfile_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kenvelope/kenvelope/internal/backendtest"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// TestBehaviour runs the shared backend scenarios on a key file in a
// temporary folder.
func TestBehaviour(t *testing.T) {
	backendtest.Run(t, backendtest.Backend{Name: "keyfile", NewKey: newBehaviourKey})
}

func newBehaviourKey(t *testing.T) *backendtest.Key {
	kek := mustOpen(t, newPath(t))
	// The key file does no I/O after Open, so a KMS outage cannot happen.
	// Faulty is a test double that simulates one.
	faulty := kmstest.NewFaulty(kek)
	return &backendtest.Key{
		KEK: faulty,
		Rotate: func(context.Context) error {
			_, err := kek.Rotate()
			return err
		},
		Destroy: func(ctx context.Context) error {
			primary, err := kek.PrimaryVersion(ctx)
			for v := uint32(1); err == nil && v <= primary; v++ {
				err = kek.Destroy(v)
			}
			return err
		},
		SetMinVersion: func(_ context.Context, v uint32) error { return kek.SetMinVersion(v) },
		Outages: map[backendtest.Fault]backendtest.Outage{
			backendtest.Unreachable: backendtest.FaultyOutage(faulty, kms.ErrUnavailable),
			backendtest.Throttled:   backendtest.FaultyOutage(faulty, kms.ErrThrottled),
		},
		OutageNotes: map[backendtest.Fault]string{
			backendtest.Hanging: "a key file KEK does no I/O in Wrap or Unwrap, so no call can hang",
		},
	}
}

// BenchmarkRoundTrip measures Wrap and Unwrap of a 32-byte DEK with a key
// file KEK.
func BenchmarkRoundTrip(b *testing.B) {
	kek, err := keyfile.Open(b.TempDir()+"/kek.json", "lab-results")
	if err != nil {
		b.Fatal(err)
	}
	benchmarkRoundTrip(b, kek)
}

func benchmarkRoundTrip(b *testing.B, kek kms.KEK) {
	dek := bytes.Repeat([]byte{7}, 32)
	ec := kms.EncryptionContext{"topic": "T"}
	for b.Loop() {
		w, err := kek.Wrap(b.Context(), dek, ec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kek.Unwrap(b.Context(), w, ec); err != nil {
			b.Fatal(err)
		}
	}
}
