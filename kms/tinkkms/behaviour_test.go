package tinkkms_test

import (
	"context"
	"sync"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/kenvelope/kenvelope/internal/backendtest"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
)

// TestBehaviour runs the shared backend scenarios on a Tink AES-256-GCM
// keyset held in memory. Rotation adds a key with keyset.Manager and makes
// it primary, as an operator would.
func TestBehaviour(t *testing.T) {
	backendtest.Run(t, backendtest.Backend{Name: "tinkkms", NewKey: newBehaviourKey})
}

func newBehaviourKey(t *testing.T) *backendtest.Key {
	tmpl := aead.AES256GCMKeyTemplate()
	handle := newHandle(t, tmpl)
	kek := newKeysetKEK(t, handle)
	// A keyset in memory does no I/O, so a KMS outage cannot happen.
	// Faulty is a test double that simulates one.
	faulty := kmstest.NewFaulty(kek)

	var mu sync.Mutex
	return &backendtest.Key{
		KEK: faulty,
		Rotate: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			handle, _ = rotate(t, handle, tmpl)
			return kek.SetKeyset(handle)
		},
		// Destroy marks every key so far DESTROYED, behind a new
		// primary key, because a keyset needs an enabled primary.
		Destroy: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			var old []uint32
			for _, info := range handle.KeysetInfo().GetKeyInfo() {
				old = append(old, info.GetKeyId())
			}
			handle, _ = rotate(t, handle, tmpl)
			for _, id := range old {
				handle = destroyKey(t, handle, id)
			}
			return kek.SetKeyset(handle)
		},
		MinVersionNote: "Tink key ids are random, not ordered, so a keyset has no minimum version. An old key is " +
			"retired by disabling or deleting it, which Unwrap reports as kms.ErrKeyDisabled or kms.ErrKeyNotFound",
		Outages: map[backendtest.Fault]backendtest.Outage{
			backendtest.Unreachable: backendtest.FaultyOutage(faulty, kms.ErrUnavailable),
			backendtest.Throttled:   backendtest.FaultyOutage(faulty, kms.ErrThrottled),
		},
		OutageNotes: map[backendtest.Fault]string{
			backendtest.Hanging: "a keyset KEK does no I/O in Wrap or Unwrap, so no call can hang",
		},
	}
}

// BenchmarkRoundTrip measures Wrap and Unwrap of a 32-byte DEK with a
// keyset KEK.
func BenchmarkRoundTrip(b *testing.B) {
	handle, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	kek, err := tinkkms.FromKeyset("lab-results", handle)
	if err != nil {
		b.Fatal(err)
	}
	dek := make([]byte, 32)
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
