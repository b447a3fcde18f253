package kafkastore

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults.
const (
	DefaultPartitions        = 1
	DefaultMaxLag            = 5 * time.Second
	DefaultLagCheck          = time.Second
	DefaultFetchMaxWait      = 250 * time.Millisecond
	DefaultMissingCacheSize  = 1 << 16
	defaultReplicationFactor = -1 // the broker's default.replication.factor
)

// TopicConfigs are the settings a new key-store topic is created with.
// Compaction removes a deleted entry's wrapped key only after its segment
// is closed. So segment.ms and max.compaction.lag.ms bound how long a
// shredded EDEK stays on the brokers' disks: about 25 minutes here, plus
// the log cleaner's own schedule (log.cleaner.backoff.ms, 15 seconds by
// default in Apache Kafka 3.x). delete.retention.ms keeps tombstones for a
// day, so a process that was disconnected for less than that still reads
// every deletion.
var TopicConfigs = map[string]string{
	"cleanup.policy":            "compact",
	"min.cleanable.dirty.ratio": "0.01",
	"segment.ms":                "600000",
	"max.compaction.lag.ms":     "900000",
	"min.compaction.lag.ms":     "0",
	"delete.retention.ms":       "86400000",
}

// Opt configures a Store.
type Opt interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

type config struct {
	partitions   int32
	replication  int16
	create       bool
	maxLag       time.Duration
	lagCheck     time.Duration
	fetchMaxWait time.Duration
	missingMax   int
	logger       *slog.Logger
}

func defaultConfig() config {
	return config{
		partitions:   DefaultPartitions,
		replication:  defaultReplicationFactor,
		create:       true,
		maxLag:       DefaultMaxLag,
		lagCheck:     DefaultLagCheck,
		fetchMaxWait: DefaultFetchMaxWait,
		missingMax:   DefaultMissingCacheSize,
		logger:       slog.New(slog.DiscardHandler),
	}
}

// Partitions sets the partition count of a topic that Open creates. Every
// entry of one subject goes to the partition its token selects, so the
// count cannot change later (see PartitionCountError). Default 1, enough
// for millions of subjects at a few hundred bytes each.
func Partitions(n int32) Opt { return optFunc(func(c *config) { c.partitions = n }) }

// ReplicationFactor sets the replication factor of a topic that Open
// creates. Default -1: the broker's default.replication.factor.
func ReplicationFactor(n int16) Opt { return optFunc(func(c *config) { c.replication = n }) }

// CreateTopic sets whether Open creates a missing topic, with
// TopicConfigs. Default true.
func CreateTopic(create bool) Opt { return optFunc(func(c *config) { c.create = create }) }

// MaxLag sets the staleness bound. When the Store has not confirmed for
// this long that it read the topic up to end offsets listed at the start
// of the confirmation, reads fail with keyring.ErrStoreStale. A process
// cut off from the topic then stops using subject keys instead of missing
// a shred. Together with keyring.SubjectCacheTTL it bounds how long a
// process can use a shredded key after Shred returned: at most
// SubjectCacheTTL plus MaxLag, and a little more for sealing (see
// keyring.SubjectCacheTTL). Default five seconds.
func MaxLag(d time.Duration) Opt { return optFunc(func(c *config) { c.maxLag = d }) }

// LagCheck sets how often the Store compares its read position with the
// topic's end offsets. It must be below MaxLag. Default one second.
func LagCheck(d time.Duration) Opt { return optFunc(func(c *config) { c.lagCheck = d }) }

// FetchMaxWait sets how long the Store's fetch request waits for new
// records at the broker. Default 250ms.
func FetchMaxWait(d time.Duration) Opt { return optFunc(func(c *config) { c.fetchMaxWait = d }) }

// WithLogger sets the logger for malformed records and lost contact with
// the topic. It receives DEK ids and offsets, never keys or tokens.
// Default: discard.
func WithLogger(l *slog.Logger) Opt { return optFunc(func(c *config) { c.logger = l }) }

func (c *config) validate() error {
	switch {
	case c.partitions <= 0:
		return fmt.Errorf("kafkastore: Partitions %d must be positive", c.partitions)
	case c.maxLag <= 0 || c.lagCheck <= 0 || c.lagCheck >= c.maxLag:
		return fmt.Errorf("kafkastore: LagCheck %v must be positive and below MaxLag %v", c.lagCheck, c.maxLag)
	case c.fetchMaxWait <= 0:
		return fmt.Errorf("kafkastore: FetchMaxWait %v must be positive", c.fetchMaxWait)
	case c.logger == nil:
		return fmt.Errorf("kafkastore: WithLogger(nil)")
	}
	return nil
}
