package kafka_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// env is one in-process kfake broker with a keyring on each side.
type env struct {
	t       *testing.T
	cluster *kfake.Cluster
	kek     *keyfile.KEK
	ring    *keyring.Ring
}

func newEnv(t *testing.T, topics ...string) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kek, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cluster: c, kek: kek, ring: newRing(t, kek)}
}

func newRing(t *testing.T, keks ...kms.KEK) *keyring.Ring {
	t.Helper()
	r, err := keyring.New(keks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(e.cluster.ListenAddrs()...)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

func (e *env) producer(opts ...kafka.ProducerOpt) *kafka.Producer {
	e.t.Helper()
	opts = append([]kafka.ProducerOpt{kafka.KEK("patients")}, opts...)
	p, err := kafka.NewProducer(e.client(), e.ring, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) consumer(topic string, opts ...kafka.ConsumerOpt) *kafka.Consumer {
	e.t.Helper()
	cl := e.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	c, err := kafka.NewConsumer(cl, newRing(e.t, e.kek), opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// raw returns the first n records of topic as stored, without decryption.
func (e *env) raw(topic string, n int) []*kgo.Record {
	e.t.Helper()
	cl := e.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			e.t.Fatalf("read %d raw records of %d: %v", len(out), n, err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// produce sends rs through p and fails the test on any error.
func produce(t *testing.T, p *kafka.Producer, rs ...*kgo.Record) {
	t.Helper()
	if err := p.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatalf("ProduceSync() err = %v", err)
	}
}

// pollN polls c until it has n records or an error.
func pollN(t *testing.T, c *kafka.Consumer, n int) ([]kafka.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []kafka.Record
	for len(out) < n {
		rs, err := c.Poll(ctx)
		out = append(out, rs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func newRingNamed(t *testing.T, name string) *keyring.Ring {
	t.Helper()
	kek, err := keyfile.FromBytes(name, bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return newRing(t, kek)
}
