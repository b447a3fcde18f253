package kafkastore

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/keyring"
)

// produce writes one record to partition p and waits until the index has
// read it, so that the caller reads its own write.
func (s *Store) produce(ctx context.Context, p int32, key, value []byte) (int64, error) {
	r := &kgo.Record{Topic: s.topic, Partition: p, Key: key, Value: value}
	if err := s.client.ProduceSync(ctx, r).FirstErr(); err != nil {
		return 0, fmt.Errorf("kafkastore: produce to %q partition %d: %w", s.topic, p, err)
	}
	if err := s.waitOffset(ctx, p, r.Offset); err != nil {
		return 0, fmt.Errorf("kafkastore: read back offset %d of partition %d: %w", r.Offset, p, err)
	}
	return r.Offset, nil
}

// Create writes e and returns it with Seq set to its offset.
func (s *Store) Create(ctx context.Context, e keyring.Entry) (keyring.Entry, error) {
	if _, ok, _ := s.idx.lookup(e.ID); ok {
		return keyring.Entry{}, fmt.Errorf("kafkastore: DEK id %s already stored", e.ID)
	}
	off, err := s.produce(ctx, s.partition(e.Token), entryKey(e.ID), encodeEntry(e, -1))
	if err != nil {
		return keyring.Entry{}, err
	}
	e.Seq = off
	return e, nil
}

// Lookup returns the entry with id. On a miss it reads the topic to its
// current end once before it returns keyring.ErrNotFound, because the
// entry may have been written by another process a moment ago.
func (s *Store) Lookup(ctx context.Context, id keyring.DEKID) (keyring.Entry, error) {
	if err := s.fresh(); err != nil {
		return keyring.Entry{}, err
	}
	e, ok, missing := s.idx.lookup(id)
	if ok {
		return e, nil
	}
	if missing {
		return keyring.Entry{}, keyring.ErrNotFound
	}
	if err := s.sync(ctx); err != nil {
		return keyring.Entry{}, fmt.Errorf("kafkastore: look up DEK %s: %w", id, err)
	}
	if e, ok, _ = s.idx.lookup(id); ok {
		return e, nil
	}
	s.idx.mu.Lock()
	s.idx.markMissing(id)
	s.idx.mu.Unlock()
	return keyring.Entry{}, keyring.ErrNotFound
}

// Entries returns the live entries of token in Seq order.
func (s *Store) Entries(_ context.Context, token keyring.Token) ([]keyring.Entry, error) {
	if err := s.fresh(); err != nil {
		return nil, err
	}
	return s.idx.tokenEntries(token), nil
}

// Range calls fn for every live entry in Seq order.
func (s *Store) Range(_ context.Context, fn func(keyring.Entry) bool) error {
	if err := s.fresh(); err != nil {
		return err
	}
	for _, e := range s.idx.all() {
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// Update writes e's new wrapping under the same key, carrying the offset
// of the entry's first record so the order survives compaction.
func (s *Store) Update(ctx context.Context, e keyring.Entry) error {
	cur, ok, _ := s.idx.lookup(e.ID)
	if !ok {
		return keyring.ErrNotFound
	}
	cur.KEKVersion, cur.EDEK, cur.Wrapped = e.KEKVersion, e.EDEK, e.Wrapped
	_, err := s.produce(ctx, s.partition(cur.Token), entryKey(e.ID), encodeEntry(cur, cur.Seq))
	return err
}

// Delete writes a tombstone for each id.
func (s *Store) Delete(ctx context.Context, token keyring.Token, ids []keyring.DEKID) error {
	p := s.partition(token)
	rs := make([]*kgo.Record, len(ids))
	for i, id := range ids {
		rs[i] = &kgo.Record{Topic: s.topic, Partition: p, Key: entryKey(id)}
	}
	if err := s.client.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("kafkastore: write %d tombstones to %q: %w", len(ids), s.topic, err)
	}
	last := int64(-1)
	for _, r := range rs {
		last = max(last, r.Offset)
	}
	return s.waitOffset(ctx, p, last)
}

// SetQuarantine writes or removes token's quarantine record.
func (s *Store) SetQuarantine(ctx context.Context, token keyring.Token, on bool) error {
	var value []byte
	if on {
		value = []byte{1}
	}
	_, err := s.produce(ctx, s.partition(token), quarantineKey(token), value)
	return err
}

// Quarantined reports whether token is quarantined.
func (s *Store) Quarantined(_ context.Context, token keyring.Token) (bool, error) {
	if err := s.fresh(); err != nil {
		return false, err
	}
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	return s.idx.quarantined[token], nil
}

// Subscribe registers fn for every change the Store reads, in the order
// of the topic's partitions. fn runs in the Store's reader goroutine.
func (s *Store) Subscribe(fn func(keyring.Change)) func() { return s.idx.subscribe(fn) }
