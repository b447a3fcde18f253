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
			ctx := context.Background()
			var store keyring.KeyStore = keyring.NewMemoryStore()
			if lagging {
				store = laggingStore{store.(*keyring.MemoryStore), 3 * time.Millisecond}
			}
			r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store), keyring.MaxRecords(3))
			var fails, seals atomic.Int64
			var first atomic.Value
			var wg sync.WaitGroup
			for g := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 1000 {
						s := fmt.Appendf(nil, "Patient/%d", (g+i)%3)
						_, _, err := r.SealSubject(ctx, "patients", s, envelope.PayloadValue, nil, []byte("v"), binding)
						seals.Add(1)
						if err != nil {
							fails.Add(1)
							first.CompareAndSwap(nil, err.Error())
						}
					}
				}()
			}
			wg.Wait()
			if n := fails.Load(); n > 0 {
				t.Errorf("%d of %d SealSubject calls failed, first: %v", n, seals.Load(), first.Load())
			}
		})
	}
}
