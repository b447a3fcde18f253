package backendtest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/kms"
)

// destroyedValues are the records written before the KEK is destroyed.
var destroyedValues = []string{"r0", "r1", "r2"}

// produceThenDestroy produces destroyedValues to topic phi and destroys
// the key that wrapped their DEK.
func produceThenDestroy(t *testing.T, key *Key) *cluster {
	t.Helper()
	c := newCluster(t, "phi", "dlq")
	p := c.producer(newRing(t, key.KEK), key.KEK.Name())
	produceValues(t, p, "phi", destroyedValues...)
	if err := key.Destroy(t.Context()); err != nil {
		t.Fatalf("destroy KEK %s: %v", key.KEK.Name(), err)
	}
	return c
}

// checkDestroyed checks that err is the permanent kms.ErrKeyDestroyed of
// the record at offset in topic phi.
func checkDestroyed(t *testing.T, err error, offset int64) {
	t.Helper()
	checkRecordError(t, err, "phi", offset, kms.ErrKeyDestroyed)
	if kms.IsRetryable(err) {
		t.Errorf("err = %v, want a permanent error", err)
	}
}

// testDestroyedFail checks that under the default Fail policy the consumer
// stops at the first record with kms.ErrKeyDestroyed and stays there.
func testDestroyedFail(t *testing.T, key *Key) {
	c := produceThenDestroy(t, key)
	cons := c.consumer(newRing(t, key.KEK), "phi")
	for range 2 {
		checkDestroyed(t, pollErr(t, cons), 0)
	}
}

// testDestroyedSkip checks that under Skip every record reaches the
// callback with kms.ErrKeyDestroyed, still encrypted, and none is dropped
// without it.
func testDestroyedSkip(t *testing.T, key *Key) {
	c := produceThenDestroy(t, key)
	var errs []error
	var raws []*kgo.Record
	cons := c.consumer(newRing(t, key.KEK), "phi", kafka.OnDecryptError(kafka.Skip(func(raw *kgo.Record, err error) {
		raws = append(raws, raw)
		errs = append(errs, err)
	})))
	got := drain(t, cons, func() bool { return len(errs) >= len(destroyedValues) })
	if len(got) != 0 {
		t.Errorf("Poll() returned %d records, want 0", len(got))
	}
	if len(errs) != len(destroyedValues) {
		t.Fatalf("Skip callback ran %d times, want %d", len(errs), len(destroyedValues))
	}
	for i, err := range errs {
		checkDestroyed(t, err, int64(i))
		if bytes.Equal(raws[i].Value, []byte(destroyedValues[i])) {
			t.Errorf("Skip callback record %d carries its plaintext, want the raw encrypted value", i)
		}
	}
}

// testDestroyedDeadLetter checks that under DeadLetter every record goes
// to the dead-letter topic, still encrypted, with headers naming where it
// came from and why.
func testDestroyedDeadLetter(t *testing.T, key *Key) {
	c := produceThenDestroy(t, key)
	n := len(destroyedValues)
	cons := c.consumer(newRing(t, key.KEK), "phi", kafka.OnDecryptError(kafka.DeadLetter("dlq")))
	got := drain(t, cons, func() bool { return c.endOffset("dlq") >= int64(n) })
	if len(got) != 0 {
		t.Errorf("Poll() returned %d records, want 0", len(got))
	}
	if stored := c.endOffset("dlq"); stored != int64(n) {
		t.Fatalf("dead-letter topic holds %d records, want %d", stored, n)
	}

	original := c.raw("phi", n)
	for i, r := range c.raw("dlq", n) {
		want := map[string]string{
			"kenvelope-dlq-topic":     "phi",
			"kenvelope-dlq-partition": "0",
			"kenvelope-dlq-offset":    strconv.Itoa(i),
			"kenvelope-dlq-reason":    "key-destroyed",
		}
		for _, h := range r.Headers {
			if v, ok := want[h.Key]; ok {
				if string(h.Value) != v {
					t.Errorf("dead letter %d header %s = %q, want %q", i, h.Key, h.Value, v)
				}
				delete(want, h.Key)
			}
		}
		if len(want) != 0 {
			t.Errorf("dead letter %d lacks headers %v", i, want)
		}
		if !bytes.Equal(r.Value, original[i].Value) {
			t.Errorf("dead letter %d value differs from the encrypted original", i)
		}
	}
}

// drain polls c until done reports true, and returns the records it got.
// Each Poll waits at most a short time, so that done is checked often.
func drain(t *testing.T, c *kafka.Consumer, done func() bool) []kafka.Record {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	var out []kafka.Record
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v of polling", pollTimeout)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		rs, err := c.Poll(ctx)
		cancel()
		out = append(out, rs...)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Poll() err = %v, want nil", err)
		}
	}
	return out
}
