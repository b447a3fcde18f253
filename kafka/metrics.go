package kafka

import (
	"context"
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// meterName is the instrumentation scope of the Producer's and Consumer's
// instruments.
const meterName = "github.com/kenvelope/kenvelope/kafka"

// errNoKEK is returned, wrapped with the topic, for a record whose topic
// has no TopicKEK while the Producer has no default KEK.
var errNoKEK = errors.New("no KEK configured")

// WithProducerMeterProvider sets the OpenTelemetry meter provider that the
// Producer records kenvelope.producer.records with: an Int64Counter in
// {record}, one per record given to Produce or ProduceSync, counted once
// encryption has succeeded or failed. A record that the broker then
// rejects still counts as encrypted, and its promise gets the error. The
// attributes, and no others, are:
//
//   - topic: the record's topic.
//   - outcome: encrypted (its value, value fields or headers sealed);
//     passed_through (already encrypted, sent unchanged under
//     PassThroughEncrypted); tombstone (a nil value and nothing else to
//     seal, sent without a descriptor header); or failed (not sent).
//   - reason, only with outcome failed: too_large, no_topic,
//     already_encrypted, duplicate_header, record_tag, no_kek,
//     no_subject, no_key_store, store_stale, quarantined, closed,
//     key_destroyed, canceled, deadline_exceeded, kms or other. record_tag
//     means the record given to the Producer carries a tag header. kms
//     covers every other *kms.Error, and other covers errors such as one
//     from the SubjectFunc or a field codec.
//
// The Producer and Consumer share one list of reason values, and the ones
// above are those a Producer meets. No record key, value, header or
// subject, and no error text, appears in an attribute. Default: a no-op
// provider, which records nothing and adds no allocation. NewProducer
// rejects a nil mp.
func WithProducerMeterProvider(mp metric.MeterProvider) ProducerOpt {
	return producerOptFunc(func(c *producerConfig) { c.meterProvider = mp })
}

// WithConsumerMeterProvider sets the OpenTelemetry meter provider that the
// Consumer records kenvelope.consumer.records with: an Int64Counter in
// {record}, one per record that Poll handles. The attributes, and no
// others, are:
//
//   - topic: the topic the record was consumed from.
//   - outcome: decrypted, unencrypted (no descriptor header, let through
//     by AllowUnencrypted) or tombstone (a nil value with nothing sealed
//     in its headers). A record that failed to decrypt is skipped under
//     the Skip policy and dead_lettered under the DeadLetter policy. It
//     is failed under the Fail policy, when its dead-letter produce
//     failed, and under any policy after an error that a retry may fix,
//     such as a KMS outage.
//   - reason, only for skipped, dead_lettered and failed: auth,
//     binding_mismatch, invalid_descriptor, short_value, not_encrypted,
//     duplicate_header, record_tag, fields_without_descriptor,
//     headers_without_descriptor, shredded, key_destroyed,
//     version_too_old, unknown_kek, unsupported_scope, no_key_store,
//     store_stale, closed, canceled, deadline_exceeded, kms or other.
//     kms covers every *kms.Error whose kind has no reason of its own.
//
// A failed record stays first in line, so every Poll that tries it again
// counts it again. No record key, value, header or subject, and no error
// text, appears in an attribute. Default: a no-op provider, which records
// nothing and adds no allocation. NewConsumer rejects a nil mp.
func WithConsumerMeterProvider(mp metric.MeterProvider) ConsumerOpt {
	return consumerOptFunc(func(c *consumerConfig) { c.meterProvider = mp })
}

// Record outcomes, the values of the outcome attribute.
const (
	outcomeEncrypted     = "encrypted"
	outcomePassedThrough = "passed_through"
	outcomeTombstone     = "tombstone"
	outcomeFailed        = "failed"
	outcomeDecrypted     = "decrypted"
	outcomeUnencrypted   = "unencrypted"
	outcomeSkipped       = "skipped"
	outcomeDeadLettered  = "dead_lettered"
)

// maxCachedSets bounds the attribute sets a recordCounter keeps. Sets
// beyond it are built on every record, which allocates but stays correct.
const maxCachedSets = 1024

// recordCounter is a kenvelope.*.records counter that builds each
// attribute set once, so that a topic, outcome and reason seen before
// cost no allocation for their attributes.
type recordCounter struct {
	counter metric.Int64Counter

	mu   sync.RWMutex
	sets map[recordAttrs][]metric.AddOption
}

type recordAttrs struct{ topic, outcome, reason string }

func newRecordCounter(mp metric.MeterProvider, name, description string) (*recordCounter, error) {
	counter, err := mp.Meter(meterName).Int64Counter(name, metric.WithUnit("{record}"), metric.WithDescription(description))
	if err != nil {
		return nil, err
	}
	return &recordCounter{counter: counter, sets: map[recordAttrs][]metric.AddOption{}}, nil
}

// add counts one record of topic with outcome, and with the reason for
// err when err is not nil.
func (c *recordCounter) add(ctx context.Context, topic, outcome string, err error) {
	if !c.counter.Enabled(ctx) {
		return
	}
	key := recordAttrs{topic: topic, outcome: outcome}
	if err != nil {
		key.reason = recordReason(err)
	}
	c.counter.Add(ctx, 1, c.options(key)...)
}

func (c *recordCounter) options(key recordAttrs) []metric.AddOption {
	c.mu.RLock()
	opts, ok := c.sets[key]
	c.mu.RUnlock()
	if ok {
		return opts
	}

	kvs := []attribute.KeyValue{attribute.String("topic", key.topic), attribute.String("outcome", key.outcome)}
	if key.reason != "" {
		kvs = append(kvs, attribute.String("reason", key.reason))
	}
	opts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
	c.mu.Lock()
	if len(c.sets) < maxCachedSets {
		c.sets[key] = opts
	}
	c.mu.Unlock()
	return opts
}

// reasons maps errors to reason attribute values, first match first. A
// more specific error comes before one it wraps.
var reasons = [...]struct {
	err    error
	reason string
}{
	{context.Canceled, "canceled"},
	{context.DeadlineExceeded, "deadline_exceeded"},
	{ErrNoTopic, "no_topic"},
	{ErrRecordTooLarge, "too_large"},
	{ErrAlreadyEncrypted, "already_encrypted"},
	{ErrDuplicateHeader, "duplicate_header"},
	{ErrNotEncrypted, "not_encrypted"},
	{ErrRecordTag, "record_tag"},
	{ErrFieldsWithoutDescriptor, "fields_without_descriptor"},
	{ErrHeadersWithoutDescriptor, "headers_without_descriptor"},
	{errNoKEK, "no_kek"},
	{ErrNoSubject, "no_subject"},
	{keyring.ErrNoSubject, "no_subject"},
	{keyring.ErrUnknownKEK, "unknown_kek"},
	{keyring.ErrUnsupportedScope, "unsupported_scope"},
	{keyring.ErrNoKeyStore, "no_key_store"},
	{keyring.ErrStoreStale, "store_stale"},
	{keyring.ErrQuarantined, "quarantined"},
	{keyring.ErrShredded, "shredded"},
	{keyring.ErrClosed, "closed"},
	{envelope.ErrBindingMismatch, "binding_mismatch"},
	{envelope.ErrAuth, "auth"},
	{envelope.ErrInvalidDescriptor, "invalid_descriptor"},
	{envelope.ErrShortValue, "short_value"},
	{kms.ErrKeyDestroyed, "key_destroyed"},
	{kms.ErrVersionTooOld, "version_too_old"},
}

// recordReason names the kind of err from a fixed set, for the reason
// attribute. It never returns text from err itself.
func recordReason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	var tooLarge *keyring.ValueTooLargeError
	if errors.As(err, &tooLarge) {
		return "too_large"
	}
	var kmsErr *kms.Error
	if errors.As(err, &kmsErr) {
		return "kms"
	}
	return "other"
}

// encryptAndCount calls encrypt and counts the record's outcome in
// kenvelope.producer.records. With a disabled counter, such as the no-op
// default, it only calls encrypt.
func (p *Producer) encryptAndCount(ctx context.Context, r *kgo.Record) error {
	if !p.records.counter.Enabled(ctx) {
		return p.encrypt(ctx, r)
	}
	before, _ := findDescriptor(r.Headers)
	err := p.encrypt(ctx, r)
	if err != nil {
		p.records.add(ctx, r.Topic, outcomeFailed, err)
		return err
	}
	outcome := outcomeEncrypted
	if before >= 0 {
		outcome = outcomePassedThrough
	} else if after, _ := findDescriptor(r.Headers); after < 0 {
		outcome = outcomeTombstone
	}
	p.records.add(ctx, r.Topic, outcome, nil)
	return nil
}

// decryptedOutcome returns the outcome of a record that decrypt returned
// without error.
func decryptedOutcome(rec Record) string {
	switch {
	case rec.Encrypted:
		return outcomeDecrypted
	case rec.Value == nil:
		return outcomeTombstone
	default:
		return outcomeUnencrypted
	}
}
