package kafka

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
)

// DefaultMaxRecordBytes matches the broker's default message.max.bytes
// (1 MiB, strictly 1048588 in Kafka 3.x, rounded down here).
const DefaultMaxRecordBytes = 1 << 20

// Producer encrypts record values and produces them through a franz-go
// client. It is safe for concurrent use.
type Producer struct {
	client  *kgo.Client
	ring    *keyring.Ring
	cfg     producerConfig
	records *recordCounter // kenvelope.producer.records (metrics.go)
}

type producerConfig struct {
	kek           string
	topicKEKs     map[string]string
	maxBytes      int
	passThrough   bool
	logger        *slog.Logger
	meterProvider metric.MeterProvider
	ext           extConfig                         // field encryption, key tokens, encrypted headers (fields.go)
	subject       func(*kgo.Record) ([]byte, error) // subject keys (subject.go)
}

// ProducerOpt configures a Producer.
type ProducerOpt interface{ applyProducer(*producerConfig) }

type producerOptFunc func(*producerConfig)

func (f producerOptFunc) applyProducer(c *producerConfig) { f(c) }

// KEK sets the name of the KEK whose DEKs encrypt records. Required unless
// every topic produced to has a TopicKEK.
func KEK(name string) ProducerOpt { return producerOptFunc(func(c *producerConfig) { c.kek = name }) }

// TopicKEK sets the KEK for one topic, overriding KEK.
func TopicKEK(topic, kekName string) ProducerOpt {
	return producerOptFunc(func(c *producerConfig) { c.topicKEKs[topic] = kekName })
}

// MaxRecordBytes sets the largest record, counted as key, encrypted value
// and headers, that the producer sends. A larger record fails locally with
// *RecordTooLargeError. Default DefaultMaxRecordBytes.
func MaxRecordBytes(n int) ProducerOpt {
	return producerOptFunc(func(c *producerConfig) { c.maxBytes = n })
}

// PassThroughEncrypted makes the producer send a record that already
// carries one descriptor header unchanged, for example when forwarding
// records between clusters. By default such a record fails with
// ErrAlreadyEncrypted, so nothing is encrypted twice by accident.
func PassThroughEncrypted() ProducerOpt {
	return producerOptFunc(func(c *producerConfig) { c.passThrough = true })
}

// WithProducerLogger sets the logger for encryption failures. Default:
// discard.
func WithProducerLogger(l *slog.Logger) ProducerOpt {
	return producerOptFunc(func(c *producerConfig) { c.logger = l })
}

// NewProducer returns a Producer that encrypts with ring and produces
// through client. The caller keeps ownership of client and ring.
func NewProducer(client *kgo.Client, ring *keyring.Ring, opts ...ProducerOpt) (*Producer, error) {
	cfg := producerConfig{topicKEKs: map[string]string{}, maxBytes: DefaultMaxRecordBytes, logger: slog.New(slog.DiscardHandler),
		meterProvider: noop.NewMeterProvider()}
	for _, o := range opts {
		o.applyProducer(&cfg)
	}
	if client == nil || ring == nil {
		return nil, fmt.Errorf("kenvelope: NewProducer needs a client and a keyring")
	}
	if cfg.kek == "" && len(cfg.topicKEKs) == 0 {
		return nil, fmt.Errorf("kenvelope: no KEK configured: set KEK(name) or TopicKEK")
	}
	for _, name := range append([]string{cfg.kek}, values(cfg.topicKEKs)...) {
		if _, ok := ring.KEK(name); name != "" && !ok {
			return nil, fmt.Errorf("kenvelope: producer KEK %q is not in the keyring", name)
		}
	}
	if cfg.maxBytes <= envelope.Overhead || cfg.logger == nil {
		return nil, fmt.Errorf("kenvelope: MaxRecordBytes %d too small or logger nil", cfg.maxBytes)
	}
	if cfg.meterProvider == nil {
		return nil, fmt.Errorf("kenvelope: WithProducerMeterProvider(nil) is invalid, pass noop.NewMeterProvider() to record nothing")
	}
	records, err := newRecordCounter(cfg.meterProvider, "kenvelope.producer.records", "Records given to the Producer, by topic and outcome.")
	if err != nil {
		return nil, fmt.Errorf("kenvelope: producer metrics: %w", err)
	}
	return &Producer{client: client, ring: ring, cfg: cfg, records: records}, nil
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Produce encrypts r's value and produces it asynchronously, like
// kgo.Client.Produce. promise is called once with r and any error; when
// encryption fails it is called before Produce returns and nothing is sent.
// Before promise runs, r's value and headers are restored to what the
// caller passed, while Partition and Offset are as produced.
func (p *Producer) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if promise == nil {
		promise = func(*kgo.Record, error) {}
	}
	key, value, headers := r.Key, r.Value, r.Headers
	if err := p.encryptAndCount(ctx, r); err != nil {
		r.Key, r.Value, r.Headers = key, value, headers
		promise(r, err)
		return
	}
	p.client.Produce(ctx, r, func(r *kgo.Record, err error) {
		r.Key, r.Value, r.Headers = key, value, headers
		promise(r, err)
	})
}

// ProduceSync encrypts and produces rs and waits for all of them, like
// kgo.Client.ProduceSync. Records that fail to encrypt are not sent and
// carry their error in the results.
func (p *Producer) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	results := make(kgo.ProduceResults, len(rs))
	done := make(chan struct{}, len(rs))
	for i, r := range rs {
		p.Produce(ctx, r, func(r *kgo.Record, err error) {
			results[i] = kgo.ProduceResult{Record: r, Err: err}
			done <- struct{}{}
		})
	}
	for range rs {
		<-done
	}
	return results
}

// Flush waits for every buffered record, like kgo.Client.Flush.
func (p *Producer) Flush(ctx context.Context) error { return p.client.Flush(ctx) }

// encrypt replaces r's value with its sealed form and adds the descriptor
// header, or returns a *RecordError and leaves r as it was.
func (p *Producer) encrypt(ctx context.Context, r *kgo.Record) error {
	if p.cfg.ext.enabled() {
		return p.encryptExt(ctx, r)
	}
	fail := func(kek string, err error) error {
		p.cfg.logger.Warn("kenvelope: record not encrypted", "topic", r.Topic, "kek", kek, "error", err)
		return &RecordError{Op: "encrypt", Topic: r.Topic, Partition: -1, Offset: -1, KEKName: kek, Err: err}
	}
	if r.Topic == "" {
		return fail("", ErrNoTopic)
	}
	at, err := findDescriptor(r.Headers)
	if err != nil {
		return fail("", err)
	}
	if at >= 0 {
		if p.cfg.passThrough {
			return nil
		}
		return fail("", ErrAlreadyEncrypted)
	}
	if r.Value == nil {
		return nil // a tombstone stays a tombstone
	}

	kek := p.kekFor(r.Topic)
	if kek == "" {
		return fail("", fmt.Errorf("%w for topic %q", errNoKEK, r.Topic))
	}
	// The smallest descriptor rejects, before sealing, a record that can
	// never fit. The exact size is checked after sealing, so the outcome
	// does not depend on whether a DEK already exists.
	plain := len(r.Key) + len(r.Value) + headersSize(r.Headers)
	overhead := envelope.Overhead + len(envelope.HeaderName)
	if least := plain + overhead + minDescriptorLen(kek); least > p.cfg.maxBytes {
		return fail(kek, &RecordTooLargeError{PlainSize: plain, EncryptedSize: least, Max: p.cfg.maxBytes})
	}

	desc, sealed, err := p.seal(ctx, kek, r)
	if err != nil {
		return fail(kek, err)
	}
	if size := plain + overhead + len(desc); size > p.cfg.maxBytes {
		return fail(kek, &RecordTooLargeError{PlainSize: plain, EncryptedSize: size, Max: p.cfg.maxBytes})
	}
	headers := make([]kgo.RecordHeader, len(r.Headers), len(r.Headers)+1)
	copy(headers, r.Headers)
	r.Headers = append(headers, kgo.RecordHeader{Key: envelope.HeaderName, Value: desc})
	r.Value = sealed
	return nil
}

func (p *Producer) kekFor(topic string) string {
	if k, ok := p.cfg.topicKEKs[topic]; ok {
		return k
	}
	return p.cfg.kek
}

// minDescriptorLen is the length of the smallest descriptor naming kek: a
// one-byte key reference.
func minDescriptorLen(kek string) int { return 12 + len(kek) + 1 }
