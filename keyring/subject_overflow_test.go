package keyring_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// slowUnwrapKEK delays every Unwrap. It is a test double for the latency
// of a remote KMS, which the key-file KEK does not have.
type slowUnwrapKEK struct {
	kms.KEK
	delay time.Duration
}

func (k slowUnwrapKEK) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	time.Sleep(k.delay)
	return k.KEK.Unwrap(ctx, w, ec)
}

// TestSmallCacheSealsDuringChangeBurst seals several subjects through a
// one-entry subject cache while another goroutine quarantines and
// releases an unrelated subject, which fills the change log. Unrelated
// changes must not make a seal fail.
func TestSmallCacheSealsDuringChangeBurst(t *testing.T) {
	for _, burst := range []bool{false, true} {
		t.Run(fmt.Sprintf("burst=%v", burst), func(t *testing.T) { smallCacheChangeBurst(t, burst) })
	}
}

func smallCacheChangeBurst(t *testing.T, burst bool) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	kek := slowUnwrapKEK{KEK: newKEK(t, "patients"), delay: 2 * time.Millisecond}
	r := newRing(t, []kms.KEK{kek}, keyring.WithKeyStore(store), keyring.SubjectCacheSize(1))
	for i := range 8 { // create each subject's DEK, so later resolves unwrap
		sealSubject(t, r, fmt.Sprintf("Patient/%d", i), []byte("v"))
	}

	stop := make(chan struct{})
	var changes atomic.Int64
	var gen sync.WaitGroup
	gen.Add(1)
	go func() {
		defer gen.Done()
		other := []byte("Patient/unrelated")
		for burst {
			select {
			case <-stop:
				return
			default:
			}
			if err := r.Quarantine(ctx, other); err != nil {
				t.Error(err)
				return
			}
			if err := r.Release(ctx, other); err != nil {
				t.Error(err)
				return
			}
			changes.Add(2)
		}
	}()

	var wg sync.WaitGroup
	var fails, seals atomic.Int64
	var firstErr atomic.Value
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				s := fmt.Appendf(nil, "Patient/%d", (g+i)%8)
				_, _, err := r.SealSubject(ctx, "patients", s, envelope.PayloadValue, nil, []byte("v"), binding)
				seals.Add(1)
				if err != nil {
					fails.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	gen.Wait()
	t.Logf("%d seals, %d unrelated changes", seals.Load(), changes.Load())
	if n := fails.Load(); n > 0 {
		t.Errorf("%d of %d SealSubject calls failed, first: %v", n, seals.Load(), firstErr.Load())
	}
}
