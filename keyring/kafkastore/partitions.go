package kafkastore

import (
	"context"
	"fmt"

	"github.com/kenvelope/kenvelope/keyring"
)

// PartitionCountError reports a key-store topic whose partition count
// differs from the count the store was created with. Every record about
// a subject goes to the partition that its token selects modulo the
// count, and each Store reads the partitions that existed when it opened.
// After partitions are added, a Store opened later writes a subject's
// tombstones to a partition that Stores opened earlier never read, and
// compaction can no longer remove a shredded key, so a shred is lost.
//
// Open returns it for such a topic. A running Store whose lag check finds
// the count changed fails every read with it, and it wraps
// keyring.ErrStoreStale. Never add partitions to a key-store topic. To
// recover, copy partitions 0 to Recorded-1 record by record, keeping each
// record's partition, to a new topic with Recorded partitions and the
// configs in TopicConfigs, and open the Stores on that topic.
type PartitionCountError struct {
	Topic string
	// Recorded is the count in the topic's metadata record, written when
	// the store was created, or the count this Store opened with.
	Recorded int32
	// Found is the count the brokers report.
	Found int32
}

func (e *PartitionCountError) Error() string {
	return fmt.Sprintf("kafkastore: topic %q has %d partitions, but the key store was created with %d: partitions must never be added to a key-store topic",
		e.Topic, e.Found, e.Recorded)
}

// Unwrap returns keyring.ErrStoreStale: the Store cannot tell whether it
// reads every deletion.
func (e *PartitionCountError) Unwrap() error { return keyring.ErrStoreStale }

// checkPartitions compares the partition count recorded in the topic's
// metadata record with the count at Open, and writes the record when the
// topic has none. A Store that may not write (consumers often may only
// read the topic) logs the failure and compares later counts with the
// count it opened with.
//
// NOTE: partitions added to a topic that has no metadata record yet, for
// example one created by an earlier version of this package, go unnoticed
// by Stores opened after the change.
func (s *Store) checkPartitions(ctx context.Context) error {
	n := s.idx.recordedPartitions()
	if n == 0 {
		_, err := s.produce(ctx, 0, []byte{keyMeta}, encodeMeta(s.partitions))
		if err != nil {
			s.cfg.logger.Warn("kenvelope: could not record the key-store topic's partition count", "topic", s.topic,
				"partitions", s.partitions, "error", err)
			return nil
		}
		n = s.idx.recordedPartitions()
	}
	if n != s.partitions {
		return &PartitionCountError{Topic: s.topic, Recorded: n, Found: s.partitions}
	}
	return nil
}

// checkCount fails the Store when the brokers report a partition count
// other than the one it opened with.
func (s *Store) checkCount(found int) {
	if found == int(s.partitions) || s.failed.Load() != nil {
		return
	}
	err := &PartitionCountError{Topic: s.topic, Recorded: s.partitions, Found: int32(found)}
	s.failed.Store(err)
	s.cfg.logger.Error("kenvelope: key store failed closed: partitions were added to its topic", "topic", s.topic,
		"recorded", s.partitions, "found", found, "error", err)
}

// broken returns the error that failed the Store for good, or nil.
func (s *Store) broken() error {
	if err := s.failed.Load(); err != nil {
		return err
	}
	return nil
}
