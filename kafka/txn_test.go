package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

func TestTransactionsReadCommitted(t *testing.T) {
	e := newEnv(t, "fhir")
	cl := e.client(kgo.TransactionalID("kenvelope-test"))
	p, err := kafka.NewProducer(cl, e.ring, kafka.KEK("patients"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	txn := func(values []string, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			produce(t, p, &kgo.Record{Topic: "fhir", Value: []byte(v)})
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	txn([]string{"aborted-1", "aborted-2"}, kgo.TryAbort)
	txn([]string{"committed-1", "committed-2"}, kgo.TryCommit)

	consumer := e.client(kgo.ConsumeTopics("fhir"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	c, err := kafka.NewConsumer(consumer, newRing(t, e.kek))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pollN(t, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, r := range got {
		values = append(values, string(r.Value))
	}
	if strings.Join(values, ",") != "committed-1,committed-2" {
		t.Fatalf("read_committed values = %v, want [committed-1 committed-2]", values)
	}
}

func TestProducerConsumerConcurrent(t *testing.T) {
	e := newEnv(t, "fhir")
	p := e.producer()
	const goroutines, each = 8, 50
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v := fmt.Sprintf("g%d-%d", g, i)
				if err := p.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Key: []byte(v), Value: []byte(v)}).FirstErr(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := pollN(t, e.consumer("fhir"), goroutines*each)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if !bytes.Equal(r.Key, r.Value) {
			t.Fatalf("record key %q has value %q", r.Key, r.Value)
		}
	}
}

// TestKMSOutageFailsClosed checks that records fail through their promise
// while the KMS is down, that nothing reaches the topic, and that the first
// record after recovery goes through.
func TestKMSOutageFailsClosed(t *testing.T) {
	e := newEnv(t, "fhir")
	faulty := kmstest.NewFaulty(e.kek)
	ring, err := keyring.New([]kms.KEK{faulty}, keyring.FailureBackoff(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ring.Close)
	p, err := kafka.NewProducer(e.client(), ring, kafka.KEK("patients"))
	if err != nil {
		t.Fatal(err)
	}

	faulty.Fail(kms.ErrUnavailable, -1)
	err = p.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("during outage")}).FirstErr()
	if !errors.Is(err, kms.ErrUnavailable) {
		t.Fatalf("ProduceSync() during outage err = %v, want ErrUnavailable", err)
	}
	faulty.Reset()
	produce(t, p, &kgo.Record{Topic: "fhir", Value: []byte("after recovery")})

	got, err := pollN(t, e.consumer("fhir"), 1)
	if err != nil || string(got[0].Value) != "after recovery" || got[0].Offset != 0 {
		t.Fatalf("first stored record = %q at offset %d, %v, want after recovery at 0", got[0].Value, got[0].Offset, err)
	}
}

// captureHandler keeps every log record's text, attributes included.
type captureHandler struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&h.buf, " %s=%v", a.Key, a.Value)
		return true
	})
	h.buf.WriteByte('\n')
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

func TestFailurePathsLeakNoSecrets(t *testing.T) {
	const secretValue = "MRN-SECRET-4242 Jane Roe"
	secretKey := []byte("patient-key-SECRET-77")
	e := newEnv(t, "fhir", "copy")
	logs := &captureHandler{}
	logger := slog.New(logs)
	var errs []error

	p := e.producer(kafka.WithProducerLogger(logger), kafka.MaxRecordBytes(100))
	for _, r := range []*kgo.Record{
		{Topic: "fhir", Key: secretKey, Value: []byte(secretValue + strings.Repeat("x", 200))},
		{Key: secretKey, Value: []byte(secretValue)},
	} {
		errs = append(errs, p.ProduceSync(context.Background(), r).FirstErr())
	}
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Key: secretKey, Value: []byte(secretValue)})
	copyRaw(t, e, e.raw("fhir", 1)[0], "copy", secretKey, func(r *kgo.Record) { r.Value[30] ^= 1 })
	copyRaw(t, e, e.raw("fhir", 1)[0], "copy", []byte("other"), nil)

	c := e.consumer("copy", kafka.WithConsumerLogger(logger), kafka.OnDecryptError(kafka.Skip(func(_ *kgo.Record, err error) {
		errs = append(errs, err)
	})))
	ctx, cancel := context.WithTimeout(context.Background(), 2e9)
	defer cancel()
	for len(errs) < 4 && ctx.Err() == nil {
		c.Poll(ctx)
	}
	if len(errs) < 4 {
		t.Fatalf("collected %d errors, want 4", len(errs))
	}

	var all strings.Builder
	for _, err := range errs {
		if err == nil {
			t.Fatal("a failure path returned nil")
		}
		all.WriteString(err.Error() + "\n")
		fmt.Fprintf(&all, "%+v %#v\n", err, err)
	}
	all.WriteString(logs.buf.String())
	for _, secret := range []string{secretValue, string(secretKey), "MRN-SECRET", fmt.Sprintf("%x", secretKey)} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("errors or logs contain %q:\n%s", secret, all.String())
		}
	}
}
