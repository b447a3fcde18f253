package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// Sizes of the producer outage scenario. heapBound is the growth of the
// live heap that the outage records may cause. Keeping each record's value
// would take outageRecords*outageValueLen (10 MiB). The bound leaves room
// for other goroutines of the test, and the weak pointers in
// produceDuringOutage check per-record state exactly.
const (
	warmupRecords  = 1_000
	outageRecords  = 10_000
	outageValueLen = 1024
	heapBound      = 4 << 20
	weakEvery      = 100 // records between two that get a weak pointer
)

// testProducerOutage checks that while the KMS is down every record fails
// through its promise and nothing reaches the topic. It checks that the
// Ring neither calls the KMS per record nor keeps state per record, and
// that the first record after the KMS recovers succeeds without a restart.
func testProducerOutage(t *testing.T, key *Key, f Fault) {
	o := outage(t, key, f)
	counting := kmstest.NewCounting(key.KEK)
	ring := newRing(t, kms.Retry(counting, fastRetry))
	c := newCluster(t, "phi")
	p := c.producer(ring, key.KEK.Name())

	o.Begin(t)
	if f == Hanging {
		produceHanging(t, p)
	} else {
		produceDuringOutage(t, p, counting, f)
	}
	if err := p.Flush(runCtx(t, pollTimeout)); err != nil {
		t.Fatalf("Flush(ctx) err = %v", err)
	}
	if n := c.endOffset("phi"); n != 0 {
		t.Fatalf("topic holds %d records after the outage, want 0", n)
	}

	o.End(t)
	time.Sleep(keyring.DefaultFailureBackoff)
	produceValues(t, p, "phi", "after recovery")
	got, err := pollN(t, c.consumer(newRing(t, key.KEK), "phi"), 1)
	if err != nil {
		t.Fatalf("Poll() after recovery err = %v, want nil", err)
	}
	checkValues(t, got, "after recovery")
}

// produceDuringOutage produces outageRecords records while the KMS fails
// with f and checks the promises, the KMS calls and the heap.
func produceDuringOutage(t *testing.T, p *kafka.Producer, counting *kmstest.Counting, f Fault) {
	t.Helper()
	value := bytes.Repeat([]byte{'v'}, outageValueLen)
	var mu sync.Mutex
	failed, wrong := 0, []error(nil)
	var records []weak.Pointer[kgo.Record]
	var errs []weak.Pointer[kafka.RecordError]
	promise := func(r *kgo.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed++
		if !isEncryptError(err, kindOf(f)) {
			if len(wrong) < 3 {
				wrong = append(wrong, err)
			}
			return
		}
		if failed%weakEvery == 0 {
			var rerr *kafka.RecordError
			errors.As(err, &rerr)
			records = append(records, weak.Make(r))
			errs = append(errs, weak.Make(rerr))
		}
	}

	ctx := runCtx(t, pollTimeout)
	produce := func(n int) {
		for i := range n {
			r := &kgo.Record{Topic: "phi", Key: fmt.Appendf(nil, "patient-%d", i), Value: bytes.Clone(value)}
			p.Produce(ctx, r, promise)
		}
	}
	// The first failures set up whatever a failure path allocates once,
	// so the measurement below counts only what each record leaves.
	produce(warmupRecords)
	before := liveHeap()
	wrapsBefore := counting.Wraps()
	start := time.Now()
	produce(outageRecords)
	elapsed := time.Since(start)
	growth := liveHeap() - before
	wraps := counting.Wraps() - wrapsBefore

	mu.Lock()
	defer mu.Unlock()
	if failed != warmupRecords+outageRecords {
		t.Fatalf("%d of %d promises ran before Produce returned, want all: a record that cannot be encrypted fails at once",
			failed, warmupRecords+outageRecords)
	}
	for _, err := range wrong {
		t.Errorf("promise err = %v, want a *kafka.RecordError for encrypt wrapping %v", err, kindOf(f))
	}
	checkCollected(t, "record", records)
	checkCollected(t, "error", errs)
	if growth > heapBound {
		t.Errorf("live heap grew by %d bytes over %d failed records, want at most %d", growth, outageRecords, heapBound)
	}
	// Each failure is remembered for DefaultFailureBackoff, and each wrap
	// makes at most fastRetry.Attempts calls.
	maxWraps := int64(fastRetry.Attempts) * (int64(elapsed/keyring.DefaultFailureBackoff) + 2)
	if wraps > maxWraps {
		t.Errorf("%d KMS wraps for %d records in %v, want at most %d", wraps, outageRecords, elapsed, maxWraps)
	}
	t.Logf("%d records failed in %v with %d KMS wraps; live heap grew by %d bytes", outageRecords, elapsed, wraps, growth)
}

// checkCollected checks that the garbage collector freed every object that
// ptrs point to, so that nothing kept it after its promise ran. liveHeap
// has run a collection since the objects were dropped.
func checkCollected[T any](t *testing.T, what string, ptrs []weak.Pointer[T]) {
	t.Helper()
	kept := 0
	for _, p := range ptrs {
		if p.Value() != nil {
			kept++
		}
	}
	if kept > 0 {
		t.Errorf("%d of %d sampled failed %ss are still reachable, want 0: something keeps state per record", kept, len(ptrs), what)
	}
}

// produceHanging checks that with a KMS that never responds, each record
// fails once its context ends.
func produceHanging(t *testing.T, p *kafka.Producer) {
	t.Helper()
	const budget = 200 * time.Millisecond
	stalls := startStallMeter(t)
	for i := range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), budget)
		start := time.Now()
		err := p.ProduceSync(ctx, &kgo.Record{Topic: "phi", Value: []byte("during outage")}).FirstErr()
		elapsed := time.Since(start)
		cancel()
		if !isEncryptError(err, context.DeadlineExceeded) && !isEncryptError(err, kms.ErrUnavailable) {
			t.Errorf("record %d: ProduceSync() err = %v, want an encrypt error for the deadline", i, err)
		}
		if limit := budget + stalls.max() + 200*time.Millisecond; elapsed > limit {
			t.Errorf("record %d: ProduceSync() returned after %v, want it bounded by the context's %v (at most %v with the stalls seen)",
				i, elapsed, budget, limit)
		}
	}
}

// isEncryptError reports whether err is a *kafka.RecordError for encrypt,
// before produce, that wraps kind.
func isEncryptError(err, kind error) bool {
	var rerr *kafka.RecordError
	return errors.As(err, &rerr) && errors.Is(err, kind) &&
		rerr.Op == "encrypt" && rerr.Partition == -1 && rerr.Offset == -1
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// badWrapKEK is a test double: it forwards Wrap to a real KEK and then
// replaces the wrapped key, as a faulty KMS or a broken proxy could do
// without returning an error. No real KMS here can be made to do that.
type badWrapKEK struct {
	kms.KEK
	ciphertext []byte
}

func (k badWrapKEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	w, err := k.KEK.Wrap(ctx, dek, ec)
	if err != nil {
		return w, err
	}
	w.Ciphertext = k.ciphertext
	return w, nil
}

// testInvalidWrappedKey checks that a wrapped key that fails the keyring's
// length check is rejected at encrypt time with kms.ErrInvalidResponse and
// that nothing reaches the topic.
func testInvalidWrappedKey(t *testing.T, key *Key) {
	tests := []struct {
		name       string
		ciphertext []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"too long", make([]byte, envelope.MaxEDEKLen+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, "phi")
			ring := newRing(t, badWrapKEK{key.KEK, tc.ciphertext})
			p := c.producer(ring, key.KEK.Name())
			err := p.ProduceSync(runCtx(t, pollTimeout), &kgo.Record{Topic: "phi", Value: []byte("v")}).FirstErr()
			if !isEncryptError(err, kms.ErrInvalidResponse) {
				t.Errorf("ProduceSync() err = %v, want an encrypt error wrapping ErrInvalidResponse", err)
			}
			if n := c.endOffset("phi"); n != 0 {
				t.Errorf("topic holds %d records, want 0", n)
			}
		})
	}
}
