package backendtest

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// Secrets of the leak scenario, readable so that a leak is easy to spot.
const (
	secretValue = "MRN-SECRET-4242 Jane Roe, HbA1c 9.1%"
	secretKey   = "patient-key-SECRET-77"
)

// leakRun collects the errors of every failure path, and their logs.
type leakRun struct {
	t      *testing.T
	key    *Key
	c      *cluster
	logs   *logCapture
	logger *slog.Logger
	ec     kms.EncryptionContext
	errs   []error
}

// testNoSecretInLogs runs the failure paths that the backend supports with
// every logger capturing all levels: an outage at encrypt time, a context
// mismatch, a version below the minimum, and a destroyed key under Skip
// and DeadLetter. It checks that no error and no log line contains the
// record's value or key, or the DEK in raw, hex or base64 form.
func testNoSecretInLogs(t *testing.T, key *Key) {
	logs := &logCapture{}
	run := &leakRun{t: t, key: key, c: newCluster(t, "phi", "dlq"), logs: logs,
		logger: slog.New(logs), ec: kms.EncryptionContext{"topic": "phi"}}
	ring := newRing(t, kms.Retry(key.KEK, fastRetry), keyring.WithLogger(run.logger),
		keyring.WrapContext(run.ec), keyring.RotationCheck(0))
	p := run.c.producer(ring, key.KEK.Name(), kafka.WithProducerLogger(run.logger))
	produceSecret(t, p)
	dek := run.dek()

	run.outage(ring, p)
	run.consume(keyring.WrapContext(kms.EncryptionContext{"topic": "other"}))
	run.minVersion(ring, p)
	if err := key.Destroy(t.Context()); err != nil {
		t.Fatalf("destroy KEK %s: %v", key.KEK.Name(), err)
	}
	run.consume(keyring.WrapContext(run.ec))
	dlq := run.c.consumer(run.ring(keyring.WrapContext(run.ec)), "phi", kafka.WithConsumerLogger(run.logger),
		kafka.OnDecryptError(kafka.DeadLetter("dlq")))
	drain(t, dlq, func() bool { return run.c.endOffset("dlq") >= 1 })

	if len(run.errs) < 2 || logs.String() == "" {
		t.Fatalf("collected %d errors and %d bytes of logs, want failures to report", len(run.errs), len(logs.String()))
	}
	text := run.text()
	for _, s := range []string{secretValue, secretKey, "MRN-SECRET", "SECRET-77"} {
		for _, form := range []string{s, hex.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(text, form) {
				t.Errorf("errors or logs contain a secret of the record (%q)", s)
			}
		}
	}
	kmstest.CheckNoLeak(t, errors.New(text), dek)
}

func produceSecret(t *testing.T, p *kafka.Producer) {
	t.Helper()
	r := &kgo.Record{Topic: "phi", Key: []byte(secretKey), Value: []byte(secretValue)}
	if err := p.ProduceSync(t.Context(), r).FirstErr(); err != nil {
		t.Fatalf("ProduceSync() err = %v, want nil", err)
	}
}

// dek unwraps the DEK of the first record, which the scan looks for.
func (r *leakRun) dek() []byte {
	d := descriptorOf(r.t, r.c.raw("phi", 1)[0])
	dek, err := r.key.KEK.Unwrap(r.t.Context(), kms.Wrapped{Version: d.KEKVersion, Ciphertext: d.KeyRef}, r.ec)
	if err != nil {
		r.t.Fatalf("Unwrap(ctx) of the record's DEK err = %v", err)
	}
	return dek
}

func (r *leakRun) ring(opts ...keyring.Opt) *keyring.Ring {
	return newRing(r.t, r.key.KEK, append([]keyring.Opt{keyring.WithLogger(r.logger)}, opts...)...)
}

// outage fails one record at encrypt time, if the backend stages an
// Unreachable fault.
func (r *leakRun) outage(ring *keyring.Ring, p *kafka.Producer) {
	o := r.key.Outages[Unreachable]
	if o == nil {
		return
	}
	o.Begin(r.t)
	defer func() {
		o.End(r.t)
		time.Sleep(keyring.DefaultFailureBackoff) // let the Ring forget the failure
	}()
	if err := ring.Rotate(r.key.KEK.Name()); err != nil {
		r.t.Fatalf("Ring.Rotate() err = %v", err)
	}
	rec := &kgo.Record{Topic: "phi", Key: []byte(secretKey), Value: []byte(secretValue)}
	r.errs = append(r.errs, p.ProduceSync(r.t.Context(), rec).FirstErr())
}

// minVersion produces a record under a new version and raises the
// minimum above the first record, if the backend has a minimum.
func (r *leakRun) minVersion(ring *keyring.Ring, p *kafka.Producer) {
	if r.key.SetMinVersion == nil || r.key.Rotate == nil {
		return
	}
	if err := r.key.Rotate(r.t.Context()); err != nil {
		r.t.Fatalf("rotate: %v", err)
	}
	if err := ring.Rotate(r.key.KEK.Name()); err != nil {
		r.t.Fatalf("Ring.Rotate() err = %v", err)
	}
	produceSecret(r.t, p)
	if err := r.key.SetMinVersion(r.t.Context(), primary(r.t, r.key.KEK)); err != nil {
		r.t.Fatalf("set minimum version: %v", err)
	}
	r.consume(keyring.WrapContext(r.ec))
}

// consume reads topic phi with a new Ring under Skip and collects the
// error of at least one record.
func (r *leakRun) consume(opts ...keyring.Opt) {
	before := len(r.errs)
	cons := r.c.consumer(r.ring(opts...), "phi", kafka.WithConsumerLogger(r.logger),
		kafka.OnDecryptError(kafka.Skip(func(_ *kgo.Record, err error) { r.errs = append(r.errs, err) })))
	drain(r.t, cons, func() bool { return len(r.errs) > before })
}

// text returns every collected error in the forms a program might print,
// and the logs.
func (r *leakRun) text() string {
	var b strings.Builder
	for _, err := range r.errs {
		if err == nil {
			r.t.Error("a failure path returned a nil error")
			continue
		}
		fmt.Fprintf(&b, "%v\n%+v\n%#v\n", err, err, err)
	}
	b.WriteString(r.logs.String())
	return b.String()
}
