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

// With default limits and TTL, every SealSubject must succeed, however
// small SubjectCacheSize is: a small cache costs store reads and unwraps,
// not errors.
func TestSealSubjectSmallCacheNoErrors(t *testing.T) {
	for _, size := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("cache%d", size), func(t *testing.T) {
			ctx := context.Background()
			r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(keyring.NewMemoryStore()), keyring.SubjectCacheSize(size))
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 300 {
						s := fmt.Appendf(nil, "Patient/%d", (i+g)%8)
						if _, _, err := r.SealSubject(ctx, "patients", s, envelope.PayloadValue, nil, []byte("v"), binding); err != nil {
							errs <- fmt.Errorf("goroutine %d seal %d: SealSubject err = %w", g, i, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
