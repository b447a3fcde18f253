package kafkastore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/keyring"
)

// Store is a keyring.KeyStore kept in a compacted Kafka topic. Each
// process reads the whole topic into memory at Open and keeps reading it,
// so lookups make no round trip and deletions made by other processes
// reach its subscribers as soon as their tombstones are fetched. It is
// safe for concurrent use.
type Store struct {
	topic      string
	partitions int32
	cfg        config
	clientOpts []kgo.Opt
	client     *kgo.Client // produces
	reader     *kgo.Client // consumes every partition from the start
	admin      *kadm.Client

	idx      index
	caughtUp atomic.Int64 // Unix nanoseconds of the last confirmed catch-up
	failed   atomic.Pointer[PartitionCountError]

	syncMu   sync.Mutex
	lastSync time.Time // start of the last completed sync

	cancel context.CancelFunc
	done   sync.WaitGroup
}

var _ keyring.KeyStore = (*Store)(nil)

// Open connects to the brokers that clientOpts configure (seed brokers,
// TLS, SASL), creates the topic if it is missing, reads it to its end and
// starts following it. clientOpts must not configure consuming or a
// partitioner; the Store sets its own. Close releases the clients.
func Open(ctx context.Context, topic string, clientOpts []kgo.Opt, opts ...Opt) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if topic == "" {
		return nil, fmt.Errorf("kafkastore: empty topic name")
	}
	client, err := kgo.NewClient(append(append([]kgo.Opt(nil), clientOpts...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.MetadataMinAge(metadataMinAge))...)
	if err != nil {
		return nil, fmt.Errorf("kafkastore: create client: %w", err)
	}
	s := &Store{topic: topic, cfg: cfg, clientOpts: clientOpts, client: client, admin: kadm.NewClient(client)}
	s.idx.init(cfg.missingMax)
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) start(ctx context.Context) error {
	n, err := ensureTopic(ctx, s.admin, s.topic, &s.cfg)
	if err != nil {
		return err
	}
	s.partitions = n
	s.idx.positions = make([]int64, n)
	s.reader, err = s.newReader()
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done.Add(1)
	go s.follow(runCtx)
	if err := s.initialSync(ctx); err != nil {
		return fmt.Errorf("kafkastore: read topic %q to its end: %w", s.topic, err)
	}
	if err := s.checkPartitions(ctx); err != nil {
		return err
	}
	s.done.Add(1)
	go s.checkLag(runCtx)
	return nil
}

// metadataMinAge lets the Store's clients see a topic it just created
// without waiting for kgo's default of five seconds.
const metadataMinAge = 100 * time.Millisecond

// initialSync reads the topic to its end, retrying while the metadata of a
// topic just created has not reached the client yet.
func (s *Store) initialSync(ctx context.Context) error {
	for {
		err := s.sync(ctx)
		if err == nil || !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(metadataMinAge):
		}
	}
}

// newReader returns a client that consumes every partition from the start.
func (s *Store) newReader() (*kgo.Client, error) {
	parts := make(map[int32]kgo.Offset, s.partitions)
	for p := range s.partitions {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), s.clientOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: parts}),
		kgo.FetchMaxWait(s.cfg.fetchMaxWait), kgo.MetadataMinAge(metadataMinAge))...)
	if err != nil {
		return nil, fmt.Errorf("kafkastore: create reader: %w", err)
	}
	return cl, nil
}

// Close stops following the topic and closes the clients.
func (s *Store) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.reader != nil {
		s.reader.Close()
	}
	s.done.Wait()
	s.client.Close()
}

// Topic returns the name of the store's topic.
func (s *Store) Topic() string { return s.topic }

// partition returns the partition of every record about token.
func (s *Store) partition(t keyring.Token) int32 {
	h := uint32(t[0])<<24 | uint32(t[1])<<16 | uint32(t[2])<<8 | uint32(t[3])
	return int32(h % uint32(s.partitions))
}
