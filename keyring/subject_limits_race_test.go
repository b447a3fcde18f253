package keyring_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// TestSubjectLimitsConcurrentEviction seals for two subjects from four
// goroutines with room for one DEK in the subject cache. MaxRecords must
// bound what each DEK seals, as it does from one goroutine.
func TestSubjectLimitsConcurrentEviction(t *testing.T) {
	const maxRecords = 4
	r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(keyring.NewMemoryStore()),
		keyring.SubjectCacheSize(1), keyring.MaxRecords(maxRecords))
	var mu sync.Mutex
	uses := map[string]int{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				subject := fmt.Appendf(nil, "Patient/%d", (g+i)%2)
				desc, _, err := r.SealSubject(context.Background(), "patients", subject, envelope.PayloadValue, nil, []byte("v"), binding)
				if err != nil {
					t.Errorf("SealSubject() err = %v", err)
					return
				}
				id := dekID(t, desc)
				mu.Lock()
				uses[id]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	over, maxUses := 0, 0
	for id, n := range uses {
		maxUses = max(maxUses, n)
		if n > maxRecords {
			over++
			t.Errorf("DEK %s sealed %d values, want at most MaxRecords %d", id, n, maxRecords)
		}
	}
	t.Logf("2,000 seals used %d DEKs, %d over MaxRecords, at most %d per DEK", len(uses), over, maxUses)
}
