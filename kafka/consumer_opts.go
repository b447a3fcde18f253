package kafka

import (
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"
)

// Policy is a Consumer's rule for a record it cannot decrypt.
type Policy struct {
	kind       policyKind
	onSkip     func(*kgo.Record, error)
	deadLetter string
}

type policyKind int

const (
	policyFail policyKind = iota
	policySkip
	policyDeadLetter
)

// Fail stops at the record: Poll returns the records before it and a
// *RecordError, and the next Poll tries the same record again, so nothing
// is lost. This is the default.
func Fail() Policy { return Policy{kind: policyFail} }

// Skip drops the record after calling onSkip with the raw (still
// encrypted) record and the *RecordError, and goes on. onSkip may be nil.
func Skip(onSkip func(raw *kgo.Record, err error)) Policy {
	return Policy{kind: policySkip, onSkip: onSkip}
}

// DeadLetter produces the raw record, still encrypted and with its headers,
// to topic through the consumer's client, adding headers that name the
// source topic, partition, offset and error kind, and goes on. If that
// produce fails, the consumer falls back to Fail for the record.
func DeadLetter(topic string) Policy { return Policy{kind: policyDeadLetter, deadLetter: topic} }

// ConsumerOpt configures a Consumer.
type ConsumerOpt interface{ applyConsumer(*consumerConfig) }

type consumerOptFunc func(*consumerConfig)

func (f consumerOptFunc) applyConsumer(c *consumerConfig) { f(c) }

type consumerConfig struct {
	policy           Policy
	allowUnencrypted bool
	aliases          map[string]string
	logger           *slog.Logger
	meterProvider    metric.MeterProvider
	ext              extConfig // field encryption, key tokens, encrypted headers (fields.go)
}

// OnDecryptError sets the policy for records that fail to decrypt. Default
// Fail().
func OnDecryptError(p Policy) ConsumerOpt {
	return consumerOptFunc(func(c *consumerConfig) { c.policy = p })
}

// AllowUnencrypted makes the consumer return records that carry no
// descriptor header, with Record.Encrypted false, for topics being migrated
// to encryption. By default such a record is a decryption failure
// (ErrNotEncrypted) handled by the policy.
func AllowUnencrypted() ConsumerOpt {
	return consumerOptFunc(func(c *consumerConfig) { c.allowUnencrypted = true })
}

// TopicAlias lets records consumed from mirror, a copy of topic made by a
// mirroring tool, open as if read from topic, to which they are bound.
func TopicAlias(mirror, topic string) ConsumerOpt {
	return consumerOptFunc(func(c *consumerConfig) { c.aliases[mirror] = topic })
}

// WithConsumerLogger sets the logger for decryption failures, which logs
// topic, partition, offset and KEK, never keys or values. Default: discard.
func WithConsumerLogger(l *slog.Logger) ConsumerOpt {
	return consumerOptFunc(func(c *consumerConfig) { c.logger = l })
}

func (c *consumerConfig) validate() error {
	if c.logger == nil {
		return fmt.Errorf("kenvelope: WithConsumerLogger(nil)")
	}
	if c.meterProvider == nil {
		return fmt.Errorf("kenvelope: WithConsumerMeterProvider(nil) is invalid, pass noop.NewMeterProvider() to record nothing")
	}
	if c.policy.kind == policyDeadLetter && c.policy.deadLetter == "" {
		return fmt.Errorf("kenvelope: DeadLetter needs a topic")
	}
	return nil
}
