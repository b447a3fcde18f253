package keyring_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// gatedWrapKEK holds one Wrap, after the KEK has wrapped, until the test
// releases it. It is a test double that only controls timing: a real KMS
// call can take this long, but not on demand.
type gatedWrapKEK struct {
	kms.Versioned
	armed    atomic.Bool
	wrapped  chan struct{}
	released chan struct{}
}

func (g *gatedWrapKEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	w, err := g.Versioned.Wrap(ctx, dek, ec)
	if g.armed.CompareAndSwap(true, false) {
		close(g.wrapped)
		<-g.released
	}
	return w, err
}

// TestRotateDuringWrap checks that Ring.Rotate, called after the KEK
// rotated, also covers a wrap that was in flight under the old version:
// the DEK that wrap returns is dropped, and records sealed after Rotate
// name the new version.
func TestRotateDuringWrap(t *testing.T) {
	file := openFileKEK(t)
	kek := &gatedWrapKEK{Versioned: file, wrapped: make(chan struct{}), released: make(chan struct{})}
	r := newRing(t, []kms.KEK{kek}, keyring.RotationCheck(0))
	seal(t, r, "patients", []byte("v"))
	if err := r.Rotate("patients"); err != nil {
		t.Fatal(err)
	}

	kek.armed.Store(true)
	done := make(chan []byte)
	go func() {
		// seal would call t.Fatalf, which must not run outside the test's
		// goroutine.
		desc, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("in flight"), binding)
		if err != nil {
			t.Errorf("Seal() during the wrap err = %v", err)
		}
		done <- desc
	}()
	<-kek.wrapped // the wrap under version 1 has happened

	if _, err := file.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := r.Rotate("patients"); err != nil {
		t.Fatal(err)
	}
	close(kek.released)
	if desc := <-done; desc != nil {
		if v := versionOf(t, desc); v != 2 {
			t.Errorf("version of the record whose wrap overlapped Ring.Rotate = %d, want 2", v)
		}
	}

	desc, _ := seal(t, r, "patients", []byte("after Rotate"))
	if v := versionOf(t, desc); v != 2 {
		t.Errorf("version of a record sealed after KEK rotation and Ring.Rotate = %d, want 2", v)
	}
}
