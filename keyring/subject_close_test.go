package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// Close while goroutines seal warm and cold subjects: every call returns a
// value that opens, or ErrClosed.
func TestSealSubjectDuringClose(t *testing.T) {
	for range 20 {
		ctx := context.Background()
		store := keyring.NewMemoryStore()
		keks := []kms.KEK{newKEK(t, "patients")}
		r, err := keyring.New(keks, keyring.WithKeyStore(store), keyring.SubjectCacheSize(4))
		if err != nil {
			t.Fatal(err)
		}
		reader := newRing(t, keks, keyring.WithKeyStore(store))
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					s := fmt.Appendf(nil, "Patient/%d", (i+g)%6)
					desc, sealed, err := r.SealSubject(ctx, "patients", s, envelope.PayloadValue, nil, []byte("v"), binding)
					if errors.Is(err, keyring.ErrClosed) {
						return
					}
					if err != nil {
						continue // TestSealSubjectSmallCacheNoErrors
					}
					if _, err := open(reader, desc, sealed); err != nil {
						errs <- fmt.Errorf("Open(value sealed during Close) err = %w", err)
						return
					}
				}
			}()
		}
		time.Sleep(5 * time.Millisecond)
		r.Close()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}
