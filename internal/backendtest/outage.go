package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// retrySlack is the time a back-off may overrun its cap beyond the
// scheduling stalls that a stallMeter saw, for timer granularity.
const retrySlack = 30 * time.Millisecond

// testDEK is the data key that the retry scenario wraps.
var testDEK = bytes.Repeat([]byte{0x5a}, 32)

// span is one call's start and end.
type span struct{ start, end time.Time }

// callLog is a kms.KEK that forwards every call to a real KEK and records
// when each Wrap started and ended, so that a test can measure the
// back-off between retries. It injects nothing.
type callLog struct {
	kms.KEK
	mu    sync.Mutex
	spans []span
}

func (c *callLog) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	start := time.Now()
	w, err := c.KEK.Wrap(ctx, dek, ec)
	c.mu.Lock()
	c.spans = append(c.spans, span{start, time.Now()})
	c.mu.Unlock()
	return w, err
}

// take returns the recorded spans and clears the record.
func (c *callLog) take() []span {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.spans
	c.spans = nil
	return s
}

// testRetry checks kms.Retry over a real outage: a fault that a retry can
// fix is retried Attempts times with capped exponential back-off and
// jitter, and the caller's context bounds the whole call.
func testRetry(t *testing.T, key *Key, f Fault) {
	o := outage(t, key, f)
	calls := &callLog{KEK: key.KEK}
	ec := kms.EncryptionContext{"topic": "T"}
	if _, err := calls.Wrap(t.Context(), testDEK, ec); err != nil {
		t.Fatalf("Wrap(ctx) before the outage err = %v, want nil", err)
	}
	calls.take()
	o.Begin(t)
	defer o.End(t)
	stalls := startStallMeter(t)
	if f == Hanging {
		testRetryHanging(t, calls, ec, stalls)
		return
	}

	for run := 1; ; run++ {
		problems := measureRetry(t, calls, f, stalls)
		if len(problems) == 0 {
			return
		}
		// Timing on a shared machine can fail by chance. A Retry
		// without capped back-off or jitter fails every run.
		if run == timingRuns {
			for _, p := range problems {
				t.Error(p)
			}
			return
		}
		t.Logf("run %d: %s; measuring again", run, strings.Join(problems, "; "))
	}
}

// timingRuns is how many times a timing check is measured before it fails.
const timingRuns = 3

// measureRetry wraps twice during the outage: once until Attempts runs
// out and once until the context ends. It fails t on wrong errors or call
// counts and returns the timing checks that failed.
func measureRetry(t *testing.T, calls *callLog, f Fault, stalls *stallMeter) []string {
	ec := kms.EncryptionContext{"topic": "T"}
	policy := kms.RetryPolicy{Attempts: 6, Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond}
	_, err := kms.Retry(calls, policy).Wrap(runCtx(t, pollTimeout), testDEK, ec)
	if !errors.Is(err, kindOf(f)) {
		t.Fatalf("Wrap(ctx) during the outage err = %v, want %v", err, kindOf(f))
	}
	spans := calls.take()
	if len(spans) != policy.Attempts {
		t.Fatalf("Retry made %d calls, want Attempts = %d", len(spans), policy.Attempts)
	}
	problems, ratios := checkBackoff(spans, policy, stalls.max())

	// With many attempts allowed, the caller's deadline ends the retries.
	const budget = 300 * time.Millisecond
	long := kms.RetryPolicy{Attempts: 1000, Initial: policy.Initial, Max: policy.Max}
	start := time.Now()
	_, err = kms.Retry(calls, long).Wrap(runCtx(t, budget), testDEK, ec)
	elapsed := time.Since(start)
	if !errors.Is(err, kindOf(f)) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wrap(ctx) err = %v, want %v or the context's deadline", err, kindOf(f))
	}
	spans = calls.take()
	if len(spans) < 2 {
		t.Fatalf("Retry made %d calls in %v, want retries until the context ended", len(spans), budget)
	}
	if limit := budget + stalls.max() + 100*time.Millisecond; elapsed > limit {
		problems = append(problems, fmt.Sprintf("Wrap(ctx) returned after %v, want it bounded by the context's %v (at most %v with the stalls seen)",
			elapsed, budget, limit))
	}
	more, moreRatios := checkBackoff(spans, long, stalls.max())
	problems = append(problems, more...)
	return append(problems, checkJitter(append(ratios, moreRatios...))...)
}

// checkBackoff checks that the pause before each retry stayed within the
// exponential cap min(Initial*2^(i-1), Max), give or take stall. It
// returns the failed checks and each pause as a fraction of its cap.
func checkBackoff(spans []span, p kms.RetryPolicy, stall time.Duration) (problems []string, ratios []float64) {
	limit := p.Initial
	for i := 1; i < len(spans); i++ {
		pause := spans[i].start.Sub(spans[i-1].end)
		if pause > limit+stall+retrySlack {
			problems = append(problems, fmt.Sprintf("pause before call %d = %v, want at most %v (exponential back-off capped at %v; stalls up to %v seen)",
				i+1, pause, limit, p.Max, stall))
		}
		ratios = append(ratios, float64(pause)/float64(limit))
		limit = min(2*limit, p.Max)
	}
	return problems, ratios
}

// checkJitter checks that the pauses are drawn at random below their caps
// (full jitter) rather than equal to them. With full jitter each pause is
// uniform up to its cap, so all of at least 8 pauses lying above 3/4 of
// their caps has a probability below 2^-16.
func checkJitter(ratios []float64) []string {
	if len(ratios) < 8 {
		return nil // too few pauses to tell
	}
	for _, r := range ratios {
		if r < 0.75 {
			return nil
		}
	}
	return []string{fmt.Sprintf("every pause lay within 3/4 to 1 of its cap (%.2f), want full jitter", ratios)}
}

// testRetryHanging checks that a call without a response returns when the
// caller's context ends, with a retryable or context error.
func testRetryHanging(t *testing.T, calls *callLog, ec kms.EncryptionContext, stalls *stallMeter) {
	const budget = 300 * time.Millisecond
	policy := kms.RetryPolicy{Attempts: 5, Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond}
	start := time.Now()
	_, err := kms.Retry(calls, policy).Wrap(runCtx(t, budget), testDEK, ec)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Wrap(ctx) to a hanging KMS err = nil, want an error")
	}
	if !kms.IsRetryable(err) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wrap(ctx) err = %v, want ErrUnavailable or the context's deadline", err)
	}
	if limit := budget + stalls.max() + 200*time.Millisecond; elapsed > limit {
		t.Errorf("Wrap(ctx) returned after %v, want it bounded by the context's %v (at most %v with the stalls seen)", elapsed, budget, limit)
	}
	// With kms.Retry's default AttemptTimeout of 10s, longer than the
	// budget here, one hanging call still uses the whole deadline; a
	// shorter AttemptTimeout would turn it into a retried ErrUnavailable.
	t.Logf("hanging Wrap returned after %v with %d calls: %v", elapsed, len(calls.take()), err)
}

// stallMeter measures how late a goroutine that sleeps 2ms at a time
// wakes up, which is how long the process can go without being scheduled
// (garbage collection, a loaded machine). Timing checks add this to their
// bounds, so that they fail on slow code and not on a busy machine.
type stallMeter struct {
	mu    sync.Mutex
	worst time.Duration
}

// startStallMeter measures stalls until the test ends.
func startStallMeter(t *testing.T) *stallMeter {
	m := &stallMeter{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		const tick = 2 * time.Millisecond
		for {
			start := time.Now()
			select {
			case <-stop:
				return
			case <-time.After(tick):
			}
			late := time.Since(start) - tick
			m.mu.Lock()
			m.worst = max(m.worst, late)
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return m
}

// max returns the longest stall seen so far.
func (m *stallMeter) max() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.worst
}

// testCachedDEK checks that during an outage a consumer still decrypts
// records whose DEK it has cached, fails closed on the others with a
// retryable error, and reads them once the KMS is back.
func testCachedDEK(t *testing.T, key *Key) {
	o := outage(t, key, Unreachable)
	name := key.KEK.Name()
	c := newCluster(t, "cached", "uncached")
	producerRing := newRing(t, key.KEK, keyring.RotationCheck(0))
	p := c.producer(producerRing, name)
	produceValues(t, p, "cached", "c0", "c1", "c2")
	if err := producerRing.Rotate(name); err != nil {
		t.Fatalf("Ring.Rotate(%s) err = %v", name, err)
	}
	produceValues(t, p, "uncached", "u0", "u1")

	ring := newRing(t, kms.Retry(key.KEK, fastRetry))
	if _, err := pollN(t, c.consumer(ring, "cached"), 1); err != nil {
		t.Fatalf("Poll() before the outage err = %v, want nil", err)
	}

	o.Begin(t)
	got, err := pollN(t, c.consumer(ring, "cached"), 3)
	if err != nil {
		t.Fatalf("Poll() of records with a cached DEK during the outage err = %v, want nil", err)
	}
	checkValues(t, got, "c0", "c1", "c2")
	uncached := c.consumer(ring, "uncached")
	err = pollErr(t, uncached)
	checkRecordError(t, err, "uncached", 0, kms.ErrUnavailable)
	if !kms.IsRetryable(err) {
		t.Errorf("Poll() err = %v, want a retryable error", err)
	}

	o.End(t)
	time.Sleep(keyring.DefaultFailureBackoff)
	got, err = pollN(t, uncached, 2)
	if err != nil {
		t.Fatalf("Poll() after the outage err = %v, want the records it stopped at", err)
	}
	checkValues(t, got, "u0", "u1")
}

// fastRetry is the retry policy of scenarios that only need retries to
// happen, not to be measured.
var fastRetry = kms.RetryPolicy{Attempts: 5, Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}

func checkValues(t *testing.T, got []kafka.Record, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if string(got[i].Value) != want[i] {
			t.Errorf("record %d value = %q, want %q", i, got[i].Value, want[i])
		}
	}
}
