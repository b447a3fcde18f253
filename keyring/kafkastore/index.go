package kafkastore

import (
	"cmp"
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

	// missing remembers ids that a synced lookup did not find, so records
	// of a shredded subject do not each cost a round trip.
	missing    map[keyring.DEKID]struct{}
	missingMax int

	subMu   sync.Mutex
	subs    map[int]func(keyring.Change)
	nextSub int
}

func (x *index) init(missingMax int) {
	x.entries = map[keyring.DEKID]keyring.Entry{}
	x.byToken = map[keyring.Token][]keyring.DEKID{}
	x.quarantined = map[keyring.Token]bool{}
	x.advanced = make(chan struct{})
	x.missing = map[keyring.DEKID]struct{}{}
	x.missingMax = missingMax
	x.subs = map[int]func(keyring.Change){}
}

// applyFetch applies the records of one poll and returns the changes for
// the subscribers. Malformed records are returned as errors and skipped.
func (x *index) applyFetch(fs kgo.Fetches) (changes []keyring.Change, bad []error) {
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
			bad = append(bad, err)
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
	switch {
	case len(r.Key) == 1+len(keyring.DEKID{}) && r.Key[0] == keyEntry:
		var id keyring.DEKID
		copy(id[:], r.Key[1:])
		if r.Value == nil {
			return x.remove(id), nil
		}
		e, origin, err := decodeEntry(r.Value)
		if err != nil {
			return nil, err
		}
		e.ID = id
		return x.put(e, origin, r.Offset), nil
	case len(r.Key) == 1+len(keyring.Token{}) && r.Key[0] == keyQuarantine:
		var t keyring.Token
		copy(t[:], r.Key[1:])
		if r.Value == nil {
			delete(x.quarantined, t)
		} else {
			x.quarantined[t] = true
		}
		return &keyring.Change{Kind: keyring.ChangeQuarantined, Token: t}, nil
	}
	return nil, errMalformed
}

func (x *index) put(e keyring.Entry, origin, offset int64) *keyring.Change {
	delete(x.missing, e.ID)
	if cur, ok := x.entries[e.ID]; ok {
		// A rewrap: keep the position of the first write.
		cur.KEKVersion, cur.EDEK, cur.Wrapped = e.KEKVersion, e.EDEK, e.Wrapped
		x.entries[e.ID] = cur
		return &keyring.Change{Kind: keyring.ChangeCreated, ID: e.ID, Token: cur.Token}
	}
	e.Seq = offset
	if origin >= 0 {
		e.Seq = origin
	}
	x.entries[e.ID] = e
	x.byToken[e.Token] = append(x.byToken[e.Token], e.ID)
	return &keyring.Change{Kind: keyring.ChangeCreated, ID: e.ID, Token: e.Token}
}

func (x *index) remove(id keyring.DEKID) *keyring.Change {
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
	x.markMissing(id)
	return &keyring.Change{Kind: keyring.ChangeDeleted, ID: id, Token: e.Token}
}

// markMissing remembers id as absent. x.mu is held.
func (x *index) markMissing(id keyring.DEKID) {
	if len(x.missing) >= x.missingMax {
		clear(x.missing)
	}
	x.missing[id] = struct{}{}
}

func (x *index) lookup(id keyring.DEKID) (keyring.Entry, bool, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.entries[id]
	_, missing := x.missing[id]
	return e, ok, missing
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
