package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
)

// Record is a consumed record with its value decrypted.
type Record struct {
	*kgo.Record
	// Encrypted is false only for a record that carried no descriptor
	// header and was let through by AllowUnencrypted, or a tombstone.
	Encrypted  bool
	KEKName    string
	KEKVersion uint32
}

// Consumer decrypts the records a franz-go client consumes. It is safe for
// concurrent use; concurrent Polls share one queue of pending records.
type Consumer struct {
	client  *kgo.Client
	ring    *keyring.Ring
	cfg     consumerConfig
	records *recordCounter // kenvelope.consumer.records (metrics.go)

	// turn admits one Poll at a time; a waiting Poll gives up when its
	// context ends.
	turn    chan struct{}
	pending []*kgo.Record // polled but not yet returned, after a Fail
}

// NewConsumer returns a Consumer that decrypts with ring what client
// consumes. The caller keeps ownership of client and ring.
func NewConsumer(client *kgo.Client, ring *keyring.Ring, opts ...ConsumerOpt) (*Consumer, error) {
	cfg := consumerConfig{policy: Fail(), aliases: map[string]string{}, meterProvider: noop.NewMeterProvider()}
	cfg.logger = discardLogger()
	for _, o := range opts {
		o.applyConsumer(&cfg)
	}
	if client == nil || ring == nil {
		return nil, fmt.Errorf("kenvelope: NewConsumer needs a client and a keyring")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	records, err := newRecordCounter(cfg.meterProvider, "kenvelope.consumer.records", "Records the Consumer polled, by topic and outcome.")
	if err != nil {
		return nil, fmt.Errorf("kenvelope: consumer metrics: %w", err)
	}
	return &Consumer{client: client, ring: ring, cfg: cfg, records: records, turn: make(chan struct{}, 1)}, nil
}

// Poll fetches records and returns them decrypted. Fetch errors from the
// client are returned joined with the records. Under the Fail policy a
// record that cannot be decrypted ends the batch: Poll returns the records
// before it and a *RecordError, and the next Poll starts again with it.
func (c *Consumer) Poll(ctx context.Context) ([]Record, error) {
	select {
	case c.turn <- struct{}{}:
		defer func() { <-c.turn }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	var fetchErr error
	if len(c.pending) == 0 {
		fetches := c.client.PollFetches(ctx)
		var errs []error
		fetches.EachError(func(topic string, partition int32, err error) {
			errs = append(errs, fmt.Errorf("kenvelope: fetch topic %q partition %d: %w", topic, partition, err))
		})
		fetchErr = errors.Join(errs...)
		c.pending = fetches.Records()
	}

	out := make([]Record, 0, len(c.pending))
	for len(c.pending) > 0 {
		raw := c.pending[0]
		rec, err := c.decrypt(ctx, raw)
		if err == nil {
			c.records.add(ctx, raw.Topic, decryptedOutcome(rec), nil)
			out = append(out, rec)
			c.pending = c.pending[1:]
			continue
		}
		if handled := c.handle(ctx, raw, err); !handled {
			return out, errors.Join(err, fetchErr)
		}
		c.pending = c.pending[1:]
	}
	c.pending = nil
	return out, fetchErr
}

// handle applies the policy to a record that failed with err, counts its
// outcome and reports whether the consumer may go past it.
func (c *Consumer) handle(ctx context.Context, raw *kgo.Record, err error) bool {
	outcome := c.applyPolicy(ctx, raw, err)
	c.records.add(ctx, raw.Topic, outcome, err)
	return outcome != outcomeFailed
}

// applyPolicy applies the policy to a record that failed with err and
// returns its outcome: skipped, dead_lettered, or failed when the consumer
// must stop at the record.
func (c *Consumer) applyPolicy(ctx context.Context, raw *kgo.Record, err error) string {
	c.cfg.logger.Warn("kenvelope: record not decrypted", "topic", raw.Topic, "partition", raw.Partition,
		"offset", raw.Offset, "policy", c.cfg.policy.kind.String(), "error", err)
	if transient(ctx, err) {
		// The record may be fine: keep it for the next Poll whatever the
		// policy, so a shutdown or a KMS outage drops nothing.
		return outcomeFailed
	}
	switch c.cfg.policy.kind {
	case policySkip:
		if c.cfg.policy.onSkip != nil {
			c.cfg.policy.onSkip(raw, err)
		}
		return outcomeSkipped
	case policyDeadLetter:
		if c.deadLetter(ctx, raw, err) != nil {
			return outcomeFailed
		}
		return outcomeDeadLettered
	default:
		return outcomeFailed
	}
}

func (c *Consumer) deadLetter(ctx context.Context, raw *kgo.Record, cause error) error {
	headers := make([]kgo.RecordHeader, len(raw.Headers), len(raw.Headers)+4)
	copy(headers, raw.Headers)
	headers = append(headers,
		kgo.RecordHeader{Key: "kenvelope-dlq-topic", Value: []byte(raw.Topic)},
		kgo.RecordHeader{Key: "kenvelope-dlq-partition", Value: strconv.AppendInt(nil, int64(raw.Partition), 10)},
		kgo.RecordHeader{Key: "kenvelope-dlq-offset", Value: strconv.AppendInt(nil, raw.Offset, 10)},
		kgo.RecordHeader{Key: "kenvelope-dlq-reason", Value: []byte(reason(cause))},
	)
	dl := &kgo.Record{Topic: c.cfg.policy.deadLetter, Key: raw.Key, Value: raw.Value, Headers: headers}
	if err := c.client.ProduceSync(ctx, dl).FirstErr(); err != nil {
		c.cfg.logger.Error("kenvelope: dead-letter produce failed, stopping at the record", "topic", raw.Topic,
			"partition", raw.Partition, "offset", raw.Offset, "dead_letter_topic", c.cfg.policy.deadLetter, "error", err)
		return err
	}
	return nil
}

// decrypt returns raw with its value decrypted and its descriptor header
// removed. It modifies raw only on success.
func (c *Consumer) decrypt(ctx context.Context, raw *kgo.Record) (Record, error) {
	if c.extended(raw) {
		return c.decryptExt(ctx, raw)
	}
	fail := func(d *envelope.Descriptor, err error) (Record, error) {
		return Record{}, c.decryptError(ctx, raw, d, err)
	}
	at, err := findDescriptor(raw.Headers)
	if err != nil {
		return fail(nil, err)
	}
	if raw.Value == nil {
		// A tombstone carries no ciphertext, whatever headers it has.
		if at >= 0 {
			raw.Headers = withoutHeader(raw.Headers, at)
		}
		return Record{Record: raw}, nil
	}
	if at < 0 {
		if c.cfg.allowUnencrypted {
			return Record{Record: raw}, nil
		}
		return fail(nil, ErrNotEncrypted)
	}

	descBytes := raw.Headers[at].Value
	d, err := envelope.Parse(descBytes)
	if err != nil {
		return fail(nil, err)
	}
	if d.Payload != envelope.PayloadValue {
		return fail(&d, fmt.Errorf("descriptor payload kind %d is not a whole value; use the field codec for this topic", d.Payload))
	}
	dek, err := c.ring.DEK(keyring.WithTopic(ctx, raw.Topic), d)
	if err != nil {
		return fail(&d, err)
	}
	plain, err := c.open(dek, descBytes, raw)
	if err != nil {
		return fail(&d, err)
	}
	raw.Value = plain
	raw.Headers = withoutHeader(raw.Headers, at)
	return Record{Record: raw, Encrypted: true, KEKName: d.KEKName, KEKVersion: d.KEKVersion}, nil
}

// open opens raw's value, bound to its topic or, after a binding mismatch,
// to the topic that raw's topic mirrors.
func (c *Consumer) open(dek *envelope.DEK, desc []byte, raw *kgo.Record) ([]byte, error) {
	dst := make([]byte, 0, max(len(raw.Value)-envelope.Overhead, 0))
	plain, err := dek.Open(dst, raw.Value, desc, envelope.Binding{Topic: raw.Topic, Key: raw.Key})
	if errors.Is(err, envelope.ErrBindingMismatch) {
		if orig, ok := c.cfg.aliases[raw.Topic]; ok {
			return dek.Open(dst, raw.Value, desc, envelope.Binding{Topic: orig, Key: raw.Key})
		}
	}
	return plain, err
}

func (k policyKind) String() string {
	switch k {
	case policySkip:
		return "skip"
	case policyDeadLetter:
		return "dead-letter"
	default:
		return "fail"
	}
}
