package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// TestKeyValueShapes produces every combination of nil and empty key
// with empty and non-empty value, and checks each comes back unchanged.
func TestKeyValueShapes(t *testing.T) {
	cases := []struct {
		name       string
		key, value []byte
	}{
		{"nil key empty value", nil, []byte{}},
		{"empty key empty value", []byte{}, []byte{}},
		{"empty key value", []byte{}, []byte("v")},
		{"nil key value", nil, []byte("v")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "fhir")
			produce(t, e.producer(), &kgo.Record{Topic: "fhir", Key: tc.key, Value: tc.value})
			got, err := pollN(t, e.consumer("fhir"), 1)
			if err != nil {
				t.Fatalf("Poll() err = %v, want nil", err)
			}
			r := got[0]
			if (r.Key == nil) != (tc.key == nil) || !bytes.Equal(r.Key, tc.key) {
				t.Errorf("Key = %#v, want %#v", r.Key, tc.key)
			}
			if r.Value == nil || !bytes.Equal(r.Value, tc.value) {
				t.Errorf("Value = %#v, want %#v", r.Value, tc.value)
			}
		})
	}
}

// TestRecordLargerThanDEKByteLimit produces one record larger than
// the keyring's MaxBytes. ProduceSync must return an error, not spin.
func TestRecordLargerThanDEKByteLimit(t *testing.T) {
	e := newEnv(t, "fhir")
	ring, err := keyring.New([]kms.KEK{e.kek}, keyring.MaxBytes(512<<10))
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(e.client(), ring, kafka.KEK("patients"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- p.ProduceSync(ctx, &kgo.Record{Topic: "fhir", Value: make([]byte, 600<<10)}).FirstErr()
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("ProduceSync(600 KiB, keyring MaxBytes 512 KiB) err = nil, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Error("ProduceSync(600 KiB, keyring MaxBytes 512 KiB) still running after 5s (ctx ended after 2s)")
	}
}

// TestSizeCheckDependsOnHistory produces the same record before and
// after the keyring has an active DEK: the size check must agree.
func TestSizeCheckDependsOnHistory(t *testing.T) {
	e := newEnv(t, "fhir")
	p := e.producer(kafka.MaxRecordBytes(4096))
	big := &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: make([]byte, 3900)}
	first := p.ProduceSync(context.Background(), big).FirstErr()
	produce(t, p, &kgo.Record{Topic: "fhir", Value: []byte("small")})
	second := p.ProduceSync(context.Background(), big).FirstErr()
	if (first == nil) != (second == nil) {
		t.Errorf("same 3900-byte record: first produce err = %v, later produce err = %v, want the same outcome", first, second)
	}
}

// TestConcurrentPollHonorsContext runs a Poll that waits on an empty
// topic and a second Poll whose context ends after 200ms.
func TestConcurrentPollHonorsContext(t *testing.T) {
	e := newEnv(t, "fhir")
	c := e.consumer("fhir")
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	go c.Poll(bg)
	time.Sleep(100 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	done := make(chan struct{})
	go func() { c.Poll(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Errorf("Poll(ctx with 200ms deadline) still blocked after %v behind another Poll", time.Since(began).Round(time.Millisecond))
	}
	stop()
	<-done
}

// TestDeadLetterTopicMissing uses a dead-letter topic that does not
// exist: the consumer must fall back to Fail within a bounded time and
// keep the record.
func TestDeadLetterTopicMissing(t *testing.T) {
	e := newEnv(t, "fhir")
	if err := e.client().ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c := e.consumer("fhir", kafka.OnDecryptError(kafka.DeadLetter("no-such-topic")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	got, err := c.Poll(ctx)
	for err == nil && len(got) == 0 && ctx.Err() == nil {
		got, err = c.Poll(ctx)
	}
	took := time.Since(began)
	var re *kafka.RecordError
	if !errors.As(err, &re) || len(got) != 0 {
		t.Fatalf("Poll() = %d records, %v, want a *RecordError after the dead-letter produce failed", len(got), err)
	}
	t.Logf("Poll with a missing dead-letter topic returned after %v: %v", took.Round(time.Millisecond), err)
	if took > 10*time.Second {
		t.Errorf("Poll took %v to give up on the dead-letter topic", took.Round(time.Millisecond))
	}
}

// ctxKEK fails Unwrap when the caller's context has ended, as every
// network KMS client does, and calls beforeUnwrap first so a test can end
// the context while an unwrap is in flight. It is a test double: the key
// file KEK ignores its context.
type ctxKEK struct {
	*keyfile.KEK
	beforeUnwrap func()
}

func (k ctxKEK) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	k.beforeUnwrap()
	if err := ctx.Err(); err != nil {
		return nil, &kms.Error{Op: kms.OpUnwrap, KEK: k.Name(), Kind: kms.ErrUnavailable, Cause: err}
	}
	return k.KEK.Unwrap(ctx, w, ec)
}

// TestSkipOnCanceledContext cancels Poll's context (a shutdown) while
// an unwrap is in flight. Under Skip, records that would decrypt must not
// be dropped as undecryptable.
func TestSkipOnCanceledContext(t *testing.T) {
	e := newEnv(t, "fhir")
	writer, err := keyring.New([]kms.KEK{e.kek}, keyring.MaxRecords(1))
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	p, err := kafka.NewProducer(e.client(), writer, kafka.KEK("patients"))
	if err != nil {
		t.Fatal(err)
	}
	produce(t, p, &kgo.Record{Topic: "fhir", Value: []byte("a")}, &kgo.Record{Topic: "fhir", Value: []byte("b")})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := e.client(kgo.ConsumeTopics("fhir"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var skipped atomic.Int64
	c, err := kafka.NewConsumer(cl, newRing(t, ctxKEK{KEK: e.kek, beforeUnwrap: cancel}),
		kafka.OnDecryptError(kafka.Skip(func(*kgo.Record, error) { skipped.Add(1) })))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Poll(ctx)
	t.Logf("Poll(ctx canceled during unwrap) = %d records, %v", len(got), err)
	if n := skipped.Load(); n != 0 {
		t.Errorf("Poll(ctx canceled during unwrap) skipped %d decryptable records, want 0: a canceled context is not a bad record", n)
	}
}

// TestProduceCanceledContext produces with a context that has
// already ended: nothing may reach the topic.
func TestProduceCanceledContext(t *testing.T) {
	e := newEnv(t, "fhir")
	p := e.producer()
	produce(t, p, &kgo.Record{Topic: "fhir", Value: []byte("first")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "fhir", Value: []byte("second")}).FirstErr(); err == nil {
		t.Error("ProduceSync(canceled ctx) err = nil, want a context error")
	}
	if n := len(p.ProduceSync(context.Background())); n != 0 {
		t.Errorf("ProduceSync() with no records returned %d results, want 0", n)
	}
	done := make(chan struct{})
	p.Produce(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("third")}, nil)
	go func() { _ = p.Flush(context.Background()); close(done) }()
	<-done
	got := e.raw("fhir", 2)
	if len(got) != 2 {
		t.Errorf("topic holds %d records, want 2", len(got))
	}
}

// TestWrongKEKError consumes with a KEK of the right name and the
// wrong key. The error must name the KEK and say the unwrap failed.
func TestWrongKEKError(t *testing.T) {
	e := newEnv(t, "fhir")
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Value: []byte("a")})
	wrong, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cl := e.client(kgo.ConsumeTopics("fhir"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	c, err := kafka.NewConsumer(cl, newRing(t, wrong))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pollN(t, c, 1)
	var re *kafka.RecordError
	if !errors.As(err, &re) || re.KEKName != "patients" {
		t.Fatalf("Poll(wrong KEK) err = %v, want a *RecordError naming KEK patients", err)
	}
	if !strings.Contains(err.Error(), "unwrap") {
		t.Errorf("Poll(wrong KEK) err = %q, want it to say the unwrap failed", err)
	}
	t.Logf("wrong KEK: %v", err)
}
