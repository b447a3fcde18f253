package tinkkms_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// TestConcurrentRotation wraps and unwraps from several goroutines while
// another rotates the keyset, for the race detector. Every key stays
// enabled, so every unwrap must succeed.
func TestConcurrentRotation(t *testing.T) {
	const (
		workers   = 8
		perWorker = 50
		rotations = 10
	)
	ctx := context.Background()
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	k := newKeysetKEK(t, h)
	// The handles are built here, because rotate calls t.Fatalf, which
	// only the test goroutine may call.
	handles := make([]*keyset.Handle, rotations)
	for i := range handles {
		h, _ = rotate(t, h, aead.AES256GCMKeyTemplate())
		handles[i] = h
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				dek := newDEK(t)
				w, err := k.Wrap(ctx, dek, testEC)
				if err != nil {
					t.Errorf("Wrap(ctx) err = %v", err)
					return
				}
				got, err := k.Unwrap(ctx, w, testEC)
				if err != nil || !bytes.Equal(got, dek) {
					t.Errorf("Unwrap(ctx) err = %v, want the wrapped key", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for _, next := range handles {
			if err := k.SetKeyset(next); err != nil {
				t.Errorf("SetKeyset() err = %v", err)
				return
			}
			if _, err := k.PrimaryVersion(ctx); err != nil {
				t.Errorf("PrimaryVersion(ctx) err = %v", err)
			}
		}
	})
	wg.Wait()
}
