package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/examples/internal/cli"
	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/kafka"
)

// errMissing and errMismatch are wrapped by result.err.
var (
	errMissing  = errors.New("records not read back")
	errMismatch = errors.New("records that failed to decrypt or differ from the input")
)

// result is the outcome of verifyAll.
type result struct {
	bytes      int64 // plaintext bytes of the values that matched
	mismatches int   // records that failed to decrypt or differ from the input
	missing    int   // resources for which no record was read back
}

func (r result) err() error {
	switch {
	case r.mismatches > 0:
		return fmt.Errorf("%w: %d", errMismatch, r.mismatches)
	case r.missing > 0:
		return fmt.Errorf("%w: %d", errMissing, r.missing)
	}
	return nil
}

// checker compares consumed records with the resources they came from.
// Only verifyAll's goroutine uses it: the Skip callback runs inside Poll.
type checker struct {
	log       *slog.Logger
	resources []fhir.Resource
	sent      map[position]int
	done      map[position]bool // records read back, matching or not
	matched   []bool            // by resource index
	result    result
}

// verifyAll consumes the topic from the start through a decrypting
// kafka.Consumer until every record in sent has been read back or ctx ends,
// and compares each value and key byte for byte with its resource.
func verifyAll(ctx context.Context, log *slog.Logger, e *env, topic string, resources []fhir.Resource, sent map[position]int) (result, error) {
	c := &checker{log: log, resources: resources, sent: sent,
		done: make(map[position]bool, len(sent)), matched: make([]bool, len(resources))}

	client, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.WithLogger(cli.KgoLogger(log)),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return c.finish(), fmt.Errorf("create consumer client: %w", err)
	}
	defer client.Close()

	// Skip, not the default Fail, so that one bad record is counted and
	// the check goes on to the rest.
	opts := []kafka.ConsumerOpt{kafka.WithConsumerLogger(log), kafka.OnDecryptError(kafka.Skip(c.skipped))}
	for _, o := range e.recordOpts {
		opts = append(opts, o)
	}
	consumer, err := kafka.NewConsumer(client, e.ring, opts...)
	if err != nil {
		return c.finish(), err
	}

	began := time.Now()
	for len(c.done) < len(sent) {
		records, err := consumer.Poll(ctx)
		for _, r := range records {
			c.check(r)
		}
		if ctx.Err() != nil {
			return c.finish(), fmt.Errorf("consume: %d of %d records read back: %w", len(c.done), len(sent), ctx.Err())
		}
		if err != nil {
			log.Warn("fetch failed, polling again", "error", err)
		}
	}
	log.Info("consumed and checked", "records", len(c.done), "topic", topic, "elapsed", time.Since(began).Round(time.Millisecond))
	return c.finish(), nil
}

// skipped counts a record that the consumer could not decrypt.
func (c *checker) skipped(raw *kgo.Record, err error) {
	c.mismatch(position{raw.Partition, raw.Offset}, "decryption failed")
}

// check compares one decrypted record with the resource produced there.
func (c *checker) check(r kafka.Record) {
	at := position{r.Partition, r.Offset}
	i, ok := c.sent[at]
	switch {
	case !ok:
		c.mismatch(at, "no record was produced at this offset")
	case c.done[at]:
		c.mismatch(at, "read twice")
	case !r.Encrypted || r.KEKName != kekName:
		c.mismatch(at, "not encrypted under the quickstart KEK")
	case !bytes.Equal(r.Key, []byte(c.resources[i].PatientID)):
		c.mismatch(at, "key differs from the input")
	case !bytes.Equal(r.Value, c.resources[i].JSON):
		c.mismatch(at, "value differs from the input")
	default:
		c.done[at] = true
		c.matched[i] = true
		c.result.bytes += int64(len(r.Value))
	}
}

func (c *checker) mismatch(at position, reason string) {
	c.result.mismatches++
	if c.result.mismatches <= maxLoggedFailures {
		c.log.Error("record mismatch", "partition", at.partition, "offset", at.offset, "reason", reason)
	}
	if _, ok := c.sent[at]; ok {
		c.done[at] = true
	}
}

// finish counts the resources that were not read back intact as missing,
// unless they already count as mismatches.
func (c *checker) finish() result {
	bad := make(map[int]bool)
	for at := range c.done {
		if i := c.sent[at]; !c.matched[i] {
			bad[i] = true
		}
	}
	for i, ok := range c.matched {
		if !ok && !bad[i] {
			c.result.missing++
		}
	}
	return c.result
}
