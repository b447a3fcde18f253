package kafkastore

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/keyring"
)

// index is the Store's in-memory view of the topic.
type index struct {
	mu          sync.RWMutex
	entries     map[keyring.DEKID]keyring.Entry
	byToken     map[keyring.Token][]keyring.DEKID
	quarantined map[keyring.Token]bool
	positions   []int64       // next offset to read, per partition
	advanced    chan struct{} // closed and replaced when positions move
	partitions  int32         // from the metadata record; 0 until read

	// deleted holds every id whose tombstone this index applied. A
	// deletion is final: no later record brings the id back.
	//
	// NOTE: deleted grows by one 16-byte id (about 40 bytes with the map's
	// overhead) per shredded DEK for the life of the process. A process
	// started after compaction removed a tombstone (delete.retention.ms)
	// does not have the id. A create record that someone with write
	// access to the topic replays would then bring the key back in that
	// process, so grant write access to the key store's principals only.
	deleted map[keyring.DEKID]struct{}

	// missing remembers ids that a synced lookup did not find, so records
	// of a shredded subject do not each cost a round trip.
	missing    map[keyring.DEKID]struct{}
	missingMax int

	subMu   sync.Mutex
	subs    map[int]func(keyring.Change)
	nextSub int
}

// skipped is a record that the index did not apply.
type skipped struct {
	partition int32
	offset    int64
	err       error
}

var (
	errOrphanRewrap = errors.New("rewrap record for a DEK that is not stored (deleted, or never created) ignored")
	errDeletedID    = errors.New("create record for a deleted DEK id ignored: a deletion is final")
	errDuplicateID  = errors.New("second create record for a stored DEK id ignored")
)

func (x *index) init(missingMax int) {
	x.entries = map[keyring.DEKID]keyring.Entry{}
	x.byToken = map[keyring.Token][]keyring.DEKID{}
	x.quarantined = map[keyring.Token]bool{}
	x.advanced = make(chan struct{})
	x.deleted = map[keyring.DEKID]struct{}{}
	x.missing = map[keyring.DEKID]struct{}{}
	x.missingMax = missingMax
	x.subs = map[int]func(keyring.Change){}
}

// applyFetch applies the records of one poll and returns the changes for
// the subscribers and the records it skipped.
func (x *index) applyFetch(fs kgo.Fetches) (changes []keyring.Change, bad []skipped) {
	x.mu.Lock()
	defer x.mu.Unlock()
	moved := false
	fs.EachRecord(func(r *kgo.Record) {
		if int(r.Partition) < len(x.positions) && r.Offset >= x.positions[r.Partition] {
			x.positions[r.Partition] = r.Offset + 1
			moved = true
		}
		c, err := x.apply(r)
		if err != nil {
			bad = append(bad, skipped{partition: r.Partition, offset: r.Offset, err: err})
		} else if c != nil {
			changes = append(changes, *c)
		}
	})
	if moved {
		close(x.advanced)
		x.advanced = make(chan struct{})
	}
	return changes, bad
}

// apply applies one record. x.mu is held.
func (x *index) apply(r *kgo.Record) (*keyring.Change, error) {
	idKey := len(r.Key) == 1+len(keyring.DEKID{})
	switch {
	case idKey && r.Key[0] == keyEntry:
		return x.applyEntry(keyring.DEKID(r.Key[1:]), r)
	case idKey && r.Key[0] == keyRewrap:
		if r.Value == nil {
			return nil, nil // written with, or after, the entry's tombstone
		}
		w, err := decodeRewrap(r.Value)
		if err != nil {
			return nil, err
		}
		return x.rewrap(keyring.DEKID(r.Key[1:]), w)
	case len(r.Key) == 1+len(keyring.Token{}) && r.Key[0] == keyQuarantine:
		t := keyring.Token(r.Key[1:])
		if r.Value == nil {
			delete(x.quarantined, t)
		} else {
			x.quarantined[t] = true
		}
		return &keyring.Change{Kind: keyring.ChangeQuarantined, Token: t}, nil
	case len(r.Key) == 1 && r.Key[0] == keyMeta && r.Partition == 0:
		return nil, x.applyMeta(r.Value)
	}
	return nil, fmt.Errorf("%w: unknown key of %d bytes", errMalformed, len(r.Key))
}

// applyEntry applies a 'd' record: a create, or a tombstone.
func (x *index) applyEntry(id keyring.DEKID, r *kgo.Record) (*keyring.Change, error) {
	if r.Value == nil {
		return x.remove(id), nil
	}
	e, origin, err := decodeEntry(r.Value)
	if err != nil {
		return nil, err
	}
	// NOTE: in a topic written by version 1 of the format, compaction
	// after a rewrap left only the rewrap record of that entry, and this
	// index ignores a rewrap without its create: such an entry is lost.
	if origin >= 0 { // a version 1 rewrap
		return x.rewrap(id, rewrap{seq: origin, kekVersion: e.KEKVersion, wrapped: e.Wrapped, edek: e.EDEK})
	}
	if _, deleted := x.deleted[id]; deleted {
		return nil, errDeletedID
	}
	if _, dup := x.entries[id]; dup {
		return nil, errDuplicateID
	}
	e.ID, e.Seq = id, r.Offset
	delete(x.missing, id)
	x.entries[id] = e
	x.byToken[e.Token] = append(x.byToken[e.Token], id)
	return &keyring.Change{Kind: keyring.ChangeCreated, ID: id, Token: e.Token}, nil
}

// rewrap applies a new wrapping to the live entry id whose create record
// is at offset w.seq. A rewrap of anything else cannot stand alone: it is
// ignored, so a rewrap written after a tombstone brings nothing back.
func (x *index) rewrap(id keyring.DEKID, w rewrap) (*keyring.Change, error) {
	cur, ok := x.entries[id]
	if !ok || cur.Seq != w.seq {
		return nil, errOrphanRewrap
	}
	cur.KEKVersion, cur.EDEK, cur.Wrapped = w.kekVersion, w.edek, w.wrapped
	x.entries[id] = cur
	return &keyring.Change{Kind: keyring.ChangeCreated, ID: id, Token: cur.Token}, nil
}

// applyMeta records the partition count of the first metadata record.
func (x *index) applyMeta(value []byte) error {
	n, err := decodeMeta(value)
	if err != nil {
		return err
	}
	if x.partitions == 0 {
		x.partitions = n
	} else if n != x.partitions {
		return fmt.Errorf("metadata record naming %d partitions ignored: the first named %d", n, x.partitions)
	}
	return nil
}

func (x *index) remove(id keyring.DEKID) *keyring.Change {
	x.deleted[id] = struct{}{}
	e, ok := x.entries[id]
	if !ok {
		return nil
	}
	delete(x.entries, id)
	ids := slices.DeleteFunc(x.byToken[e.Token], func(v keyring.DEKID) bool { return v == id })
	if len(ids) == 0 {
		delete(x.byToken, e.Token)
	} else {
		x.byToken[e.Token] = ids
	}
	return &keyring.Change{Kind: keyring.ChangeDeleted, ID: id, Token: e.Token}
}

// markMissing remembers id as absent. x.mu is held.
func (x *index) markMissing(id keyring.DEKID) {
	if len(x.missing) >= x.missingMax {
		clear(x.missing)
	}
	x.missing[id] = struct{}{}
}

// lookup returns the live entry with id, whether it is live, and whether
// id is known to be absent (deleted, or missed by a synced lookup).
func (x *index) lookup(id keyring.DEKID) (keyring.Entry, bool, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.entries[id]
	_, missing := x.missing[id]
	_, deleted := x.deleted[id]
	return e, ok, missing || deleted
}

func (x *index) wasDeleted(id keyring.DEKID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.deleted[id]
	return ok
}

func (x *index) recordedPartitions() int32 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.partitions
}

func (x *index) tokenEntries(t keyring.Token) []keyring.Entry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	ids := x.byToken[t]
	out := make([]keyring.Entry, 0, len(ids))
	for _, id := range ids {
		out = append(out, x.entries[id])
	}
	slices.SortFunc(out, func(a, b keyring.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

func (x *index) all() []keyring.Entry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]keyring.Entry, 0, len(x.entries))
	for _, e := range x.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b keyring.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// reached reports whether every partition has been read up to ends, and
// returns the channel that closes when positions next move.
func (x *index) reached(ends map[int32]int64) (bool, <-chan struct{}) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for p, end := range ends {
		if int(p) < len(x.positions) && x.positions[p] < end {
			return false, x.advanced
		}
	}
	return true, x.advanced
}

func (x *index) subscribe(fn func(keyring.Change)) func() {
	x.subMu.Lock()
	defer x.subMu.Unlock()
	id := x.nextSub
	x.nextSub++
	x.subs[id] = fn
	return func() {
		x.subMu.Lock()
		defer x.subMu.Unlock()
		delete(x.subs, id)
	}
}

func (x *index) notify(changes []keyring.Change) {
	x.subMu.Lock()
	subs := make([]func(keyring.Change), 0, len(x.subs))
	for _, fn := range x.subs {
		subs = append(subs, fn)
	}
	x.subMu.Unlock()
	for _, c := range changes {
		for _, fn := range subs {
			fn(c)
		}
	}
}
