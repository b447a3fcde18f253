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
	if _, live, _ := s.idx.lookup(e.ID); live || s.idx.wasDeleted(e.ID) {
		return keyring.Entry{}, fmt.Errorf("kafkastore: DEK id %s already used", e.ID)
	}
	off, err := s.produce(ctx, s.partition(e.Token), entryKey(e.ID), encodeEntry(e))
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

// Update writes e's new wrapping as a rewrap record, which names the
// offset of the entry's create record. Readers apply a rewrap record only
// to that live entry, so a rewrap that lands after another process's
// tombstone, which this Store had not read yet, restores nothing. Such a
// record would still keep the wrapped key on the brokers' disks, because
// compaction keeps the latest record of each key, so Update deletes it
// again and returns keyring.ErrNotFound.
//
// NOTE: a process that stops between the two writes leaves that rewrap
// record in place. Residue reports its id until the id is shredded again.
func (s *Store) Update(ctx context.Context, e keyring.Entry) error {
	cur, ok, _ := s.idx.lookup(e.ID)
	if !ok {
		return keyring.ErrNotFound
	}
	cur.KEKVersion, cur.EDEK, cur.Wrapped = e.KEKVersion, e.EDEK, e.Wrapped
	p := s.partition(cur.Token)
	if _, err := s.produce(ctx, p, rewrapKey(e.ID), encodeRewrap(cur)); err != nil {
		return err
	}
	if _, live, _ := s.idx.lookup(e.ID); live {
		return nil
	}
	if _, err := s.produce(ctx, p, rewrapKey(e.ID), nil); err != nil {
		return fmt.Errorf("kafkastore: delete the rewrap of shredded DEK %s: %w", e.ID, err)
	}
	return keyring.ErrNotFound
}

// Delete writes, for each id, a tombstone for its create record and then
// one for its rewrap record, so that compaction removes every wrapped
// form of the key.
func (s *Store) Delete(ctx context.Context, token keyring.Token, ids []keyring.DEKID) error {
	p := s.partition(token)
	rs := make([]*kgo.Record, 0, 2*len(ids))
	for _, id := range ids {
		rs = append(rs, &kgo.Record{Topic: s.topic, Partition: p, Key: entryKey(id)},
			&kgo.Record{Topic: s.topic, Partition: p, Key: rewrapKey(id)})
	}
	if err := s.client.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("kafkastore: write %d tombstones to %q: %w", len(rs), s.topic, err)
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

// Sync reads the topic up to the end offsets it lists when called, so that
// the reads that follow see every write completed before Sync was called.
// It implements keyring.Syncer.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.broken(); err != nil {
		return err
	}
	if err := s.sync(ctx); err != nil {
		return fmt.Errorf("kafkastore: read topic %q to its end: %w", s.topic, err)
	}
	return nil
}

// Subscribe registers fn for every change the Store reads, in the order
// of the topic's partitions. fn runs in the Store's reader goroutine.
func (s *Store) Subscribe(fn func(keyring.Change)) func() { return s.idx.subscribe(fn) }
