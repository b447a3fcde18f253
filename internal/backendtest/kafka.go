package backendtest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// pollTimeout bounds every wait for records, so a broken scenario fails
// instead of hanging the suite.
const pollTimeout = 10 * time.Second

// cluster is an in-process kfake broker with one partition per topic.
type cluster struct {
	t *testing.T
	c *kfake.Cluster
}

func newCluster(t *testing.T, topics ...string) *cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatalf("kfake.NewCluster() err = %v", err)
	}
	t.Cleanup(c.Close)
	return &cluster{t: t, c: c}
}

func (c *cluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(c.c.ListenAddrs()...)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		c.t.Fatalf("kgo.NewClient() err = %v", err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

func (c *cluster) producer(ring *keyring.Ring, kekName string, opts ...kafka.ProducerOpt) *kafka.Producer {
	c.t.Helper()
	opts = append([]kafka.ProducerOpt{kafka.KEK(kekName)}, opts...)
	p, err := kafka.NewProducer(c.client(), ring, opts...)
	if err != nil {
		c.t.Fatalf("kafka.NewProducer() err = %v", err)
	}
	return p
}

// consumer returns a Consumer that reads topic from its start with ring.
func (c *cluster) consumer(ring *keyring.Ring, topic string, opts ...kafka.ConsumerOpt) *kafka.Consumer {
	c.t.Helper()
	cl := c.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	cons, err := kafka.NewConsumer(cl, ring, opts...)
	if err != nil {
		c.t.Fatalf("kafka.NewConsumer() err = %v", err)
	}
	return cons
}

// endOffset returns the end offset of partition 0 of topic, which is the
// number of records the broker stored there.
func (c *cluster) endOffset(topic string) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	offsets, err := kadm.NewClient(c.client()).ListEndOffsets(ctx, topic)
	if err != nil {
		c.t.Fatalf("ListEndOffsets(%s) err = %v", topic, err)
	}
	o, ok := offsets.Lookup(topic, 0)
	if !ok || o.Err != nil {
		c.t.Fatalf("ListEndOffsets(%s) has no offset for partition 0: %v", topic, o.Err)
	}
	return o.Offset
}

// raw returns the first n records of topic as the broker stores them.
func (c *cluster) raw(topic string, n int) []*kgo.Record {
	c.t.Helper()
	cl := c.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			c.t.Fatalf("read %d raw records of %d from %s: %v", len(out), n, topic, ctx.Err())
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// newRing returns a Ring for kek that is closed when the test ends.
func newRing(t *testing.T, kek kms.KEK, opts ...keyring.Opt) *keyring.Ring {
	t.Helper()
	r, err := keyring.New([]kms.KEK{kek}, opts...)
	if err != nil {
		t.Fatalf("keyring.New() err = %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// produceValues produces one record per value to topic and fails the test
// on any error.
func produceValues(t *testing.T, p *kafka.Producer, topic string, values ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	for _, v := range values {
		r := &kgo.Record{Topic: topic, Key: []byte("key-" + v), Value: []byte(v)}
		if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("ProduceSync(%s) err = %v, want nil", v, err)
		}
	}
}

// pollN polls c until it has n records or an error.
func pollN(t *testing.T, c *kafka.Consumer, n int) ([]kafka.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	var out []kafka.Record
	for len(out) < n {
		rs, err := c.Poll(ctx)
		out = append(out, rs...)
		if err != nil {
			return out, err
		}
		if ctx.Err() != nil {
			t.Fatalf("polled %d records of %d: %v", len(out), n, ctx.Err())
		}
	}
	return out, nil
}

// pollErr polls c until Poll returns an error, and fails the test if a
// record comes first or none comes in time.
func pollErr(t *testing.T, c *kafka.Consumer) error {
	t.Helper()
	rs, err := pollN(t, c, 1)
	if err == nil {
		t.Fatalf("Poll() returned record %q at offset %d, want an error", rs[0].Value, rs[0].Offset)
	}
	if len(rs) > 0 {
		t.Errorf("Poll() returned %d records with its error, want 0", len(rs))
	}
	return err
}

// descriptorOf parses the descriptor header of a raw record.
func descriptorOf(t *testing.T, r *kgo.Record) envelope.Descriptor {
	t.Helper()
	for _, h := range r.Headers {
		if h.Key == envelope.HeaderName {
			d, err := envelope.Parse(h.Value)
			if err != nil {
				t.Fatalf("envelope.Parse(header) err = %v", err)
			}
			return d
		}
	}
	t.Fatalf("record at offset %d has no %s header", r.Offset, envelope.HeaderName)
	return envelope.Descriptor{}
}

// logCapture is a slog.Handler that keeps the text of every log record,
// attributes included, so a test can search it for secrets.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
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

func (h *logCapture) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCapture) WithGroup(string) slog.Handler      { return h }

func (h *logCapture) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.String()
}
