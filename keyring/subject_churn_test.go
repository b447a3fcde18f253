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

// TestSealSubjectGenerationChurn seals from six goroutines over three
// subjects with a DEK per 3 records and no Shred or Quarantine, once with
// MemoryStore and once with a store that reports changes late. Every
// SealSubject must succeed.
func TestSealSubjectGenerationChurn(t *testing.T) {
	for _, lagging := range []bool{false, true} {
		t.Run(fmt.Sprintf("lagging=%v", lagging), func(t *testing.T) {
			var store keyring.KeyStore = keyring.NewMemoryStore()
			if lagging {
				store = laggingStore{store.(*keyring.MemoryStore), 3 * time.Millisecond}
			}
			r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store), keyring.MaxRecords(3))
			res := sealConcurrently(r, 6, 1000, 3)
			if res.fails > 0 {
				t.Errorf("%d of %d SealSubject calls failed, first: %v", res.fails, res.seals, res.first)
			}
		})
	}
}

// loadResult counts the seals of sealConcurrently.
type loadResult struct {
	seals, fails int64
	first        error
}

// sealConcurrently runs goroutines that each seal perGoroutine values,
// goroutine g's i-th for subject "Patient/(g+i) mod subjects", and
// counts the calls that failed.
func sealConcurrently(r *keyring.Ring, goroutines, perGoroutine, subjects int) loadResult {
	var fails, seals atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				s := fmt.Appendf(nil, "Patient/%d", (g+i)%subjects)
				_, _, err := r.SealSubject(context.Background(), "patients", s, envelope.PayloadValue, nil, []byte("v"), binding)
				seals.Add(1)
				if err != nil {
					fails.Add(1)
					first.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Wait()
	res := loadResult{seals: seals.Load(), fails: fails.Load()}
	if p := first.Load(); p != nil {
		res.first = *p
	}
	return res
}
