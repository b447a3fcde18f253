package keyring_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

	res := sealConcurrently(r, 8, 150, 8)
	close(stop)
	gen.Wait()
	t.Logf("%d seals, %d unrelated changes", res.seals, changes.Load())
	if res.fails > 0 {
		t.Errorf("%d of %d SealSubject calls failed, first: %v", res.fails, res.seals, res.first)
	}
}
