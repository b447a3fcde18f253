package kafkastore

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kenvelope/kenvelope/keyring"
)

// follow reads the topic until ctx ends, applying records to the index and
// passing the changes to subscribers.
//
// NOTE: a reader that falls behind by more than the topic's
// delete.retention.ms can find a deleted entry's record and its tombstone
// both compacted away, and then keeps the entry. MaxLag makes such a
// process fail closed while it lags, but it does not rebuild the index
// when it catches up; restart a process that lagged that long.
func (s *Store) follow(ctx context.Context) {
	defer s.done.Done()
	for {
		fs := s.reader.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			s.cfg.logger.Warn("kenvelope: key-store fetch failed", "topic", topic, "partition", p, "error", err)
		})
		changes, bad := s.idx.applyFetch(fs)
		for _, b := range bad {
			s.cfg.logger.Warn("kenvelope: skipped a key-store record", "topic", s.topic, "partition", b.partition,
				"offset", b.offset, "error", b.err)
		}
		s.idx.notify(changes)
	}
}

// checkLag confirms every LagCheck that the index has read the topic up to
// the end offsets sampled at the start of the check, and records the time
// of that sample as the last catch-up.
func (s *Store) checkLag(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTicker(s.cfg.lagCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		checkCtx, cancel := context.WithTimeout(ctx, s.cfg.maxLag)
		err := s.catchUp(checkCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.cfg.logger.Warn("kenvelope: key store could not confirm it is current", "topic", s.topic, "error", err)
		}
	}
}

// catchUp samples the end offsets, waits until the index has read up to
// them, and records the sample time as the last catch-up.
func (s *Store) catchUp(ctx context.Context) error {
	start := time.Now()
	listed, err := s.admin.ListEndOffsets(ctx, s.topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	s.checkCount(len(listed[s.topic]))
	if err := s.broken(); err != nil {
		return err
	}
	if err := s.waitFor(ctx, ends); err != nil {
		return err
	}
	for {
		prev := s.caughtUp.Load()
		if prev >= start.UnixNano() || s.caughtUp.CompareAndSwap(prev, start.UnixNano()) {
			return nil
		}
	}
}

// waitFor waits until the index has read every partition up to ends.
func (s *Store) waitFor(ctx context.Context, ends map[int32]int64) error {
	for {
		ok, moved := s.idx.reached(ends)
		if ok {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the key-store reader: %w", ctx.Err())
		}
	}
}

// waitOffset waits until the index has read partition p past offset o.
func (s *Store) waitOffset(ctx context.Context, p int32, o int64) error {
	return s.waitFor(ctx, map[int32]int64{p: o + 1})
}

// sync brings the index up to the topic's current end. Concurrent calls
// share one catch-up: a caller whose request began before a catch-up
// started needs nothing more.
func (s *Store) sync(ctx context.Context) error {
	called := time.Now()
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.lastSync.After(called) {
		return nil
	}
	start := time.Now()
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	s.lastSync = start
	return nil
}

// fresh returns keyring.ErrStoreStale when the last confirmed catch-up is
// older than MaxLag, and the *PartitionCountError of a failed Store.
func (s *Store) fresh() error {
	if err := s.broken(); err != nil {
		return err
	}
	if age := time.Since(time.Unix(0, s.caughtUp.Load())); age > s.cfg.maxLag {
		return fmt.Errorf("%w (last confirmed %v ago, bound %v)", keyring.ErrStoreStale, age.Round(time.Millisecond), s.cfg.maxLag)
	}
	return nil
}
