package keyring

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// sealUnderLoad runs 4 goroutines per P, each sealing for its own subject
// in a tight loop for d. It returns the SealSubject errors and the largest
// lag of the coarse clock behind time.Now that a goroutine saw after a
// seal, once the clock runs.
func sealUnderLoad(t *testing.T, ttl, d time.Duration) (time.Duration, []error) {
	kek, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New([]kms.KEK{kek}, WithKeyStore(NewMemoryStore()), SubjectCacheTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	var (
		maxLag atomic.Int64
		mu     sync.Mutex
		errs   []error
		wg     sync.WaitGroup
	)
	stop := make(chan struct{})
	for g := range 4 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subject := fmt.Appendf(nil, "Patient/%d", g)
			dst := make([]byte, 0, 256)
			for i := 0; ; i++ {
				_, _, err := r.SealSubject(context.Background(), "patients", subject, envelope.PayloadValue, dst[:0], []byte("v"), envelope.Binding{Topic: "fhir"})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if i%256 != 0 {
					continue
				}
				select {
				case <-stop:
					return
				default:
				}
				// The seal above started the clock.
				lag := time.Now().UnixNano() - r.subj.clock.now()
				for m := maxLag.Load(); lag > m && !maxLag.CompareAndSwap(m, lag); m = maxLag.Load() {
				}
			}
		}()
	}

	time.Sleep(d)
	close(stop)
	wg.Wait()
	return time.Duration(maxLag.Load()), errs
}

// With every P busy sealing, the goroutine that steps the coarse clock
// runs late: 60 to 110 ms behind at the 50 ms step on a 2-core machine,
// as SubjectCacheTTL documents. A clock that stopped would lag by the
// whole second the load runs, which the loose bound here catches.
func TestCoarseClockKeepsUpUnderLoad(t *testing.T) {
	ttl := DefaultSubjectCacheTTL
	lag, errs := sealUnderLoad(t, ttl, time.Second)
	for _, err := range errs {
		t.Fatalf("SealSubject err = %v", err)
	}
	if bound := clockStep(ttl) + 500*time.Millisecond; lag > bound {
		t.Errorf("coarse clock lagged %v behind time.Now under load, want under %v", lag, bound)
	}
	t.Logf("largest lag of the coarse clock under load: %v", lag)
}

// A SubjectCacheTTL of 16 ms is valid. Under load SealSubject must keep
// sealing: every DEK here stays in the store and needs no KMS call.
func TestSealSubjectShortTTLUnderLoad(t *testing.T) {
	_, errs := sealUnderLoad(t, 16*time.Millisecond, time.Second)
	for _, err := range errs {
		t.Errorf("SealSubject err = %v", err)
	}
}
