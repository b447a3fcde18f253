package keyring

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// hotCache maps subject identifiers of one KEK to their current DEK, so
// that a warm SealSubject computes no HMAC. The identifiers stay in
// this process's memory only, as the record keys and values that carry
// them do; they are never written, logged or sent. An entry whose DEK is
// dead, exhausted or expired fails reserve and sends SealSubject down the
// slow path, which replaces it.
//
// It is an open-addressing hash table with linear probing whose readers
// take no lock, and its slots point straight to the DEKs, which hold
// their subject's identifier. With thousands of subjects sealed in turn,
// a lock, a Go map and a separate entry cost a seal about 60 ns more on a
// 2-core Xeon, mostly in cache misses. A DEK's identifier is set once,
// under mu, before the DEK is first published. Writers hold mu, replace
// slots whole and publish a new table to grow or empty it. A reader that
// still holds an older table can find a DEK that was replaced or removed
// since. That is safe because every caller checks the DEK with reserve,
// and a DEK that was shredded, replaced or dropped from the cache fails
// that check.
type hotCache struct {
	seed  maphash.Seed
	max   int
	mu    sync.Mutex
	table atomic.Pointer[hotTable]
}

// hotTable is one generation of a hotCache's slots. Its length is a power
// of two and at most half of its slots are used, so every probe ends at an
// empty slot.
type hotTable struct {
	slots []atomic.Pointer[subjectDEK]
	live  int // DEKs; guarded by hotCache.mu
	used  int // DEKs and tombstones; guarded by hotCache.mu
}

// hotInline is the longest subject identifier a DEK keeps inside itself.
// A FHIR reference such as "Patient/" and a UUID has 44 bytes.
const hotInline = 64

// hotKey is the subject identifier of a DEK in a hotCache.
type hotKey struct {
	hash    uint64
	subject []byte // points into inline when the identifier fits
	inline  [hotInline]byte
}

// tombstone marks a removed slot, which probes pass over.
var tombstone = &subjectDEK{}

const hotMinSlots = 16

func newHotCache(max int) *hotCache {
	h := &hotCache{seed: maphash.MakeSeed(), max: max}
	h.table.Store(newHotTable(hotMinSlots))
	return h
}

func newHotTable(n int) *hotTable { return &hotTable{slots: make([]atomic.Pointer[subjectDEK], n)} }

// get returns the DEK of subject, or nil.
func (h *hotCache) get(subject []byte) *subjectDEK {
	t := h.table.Load()
	hash := maphash.Bytes(h.seed, subject)
	mask := uint64(len(t.slots) - 1)
	for i := hash & mask; ; i = (i + 1) & mask {
		s := t.slots[i].Load()
		if s == nil {
			return nil
		}
		if s.hot.hash == hash && s != tombstone && bytes.Equal(s.hot.subject, subject) {
			return s
		}
	}
}

// put makes s the DEK of subject. A full cache is emptied: rebuilding an
// entry costs one HMAC.
func (h *hotCache) put(subject []byte, s *subjectDEK) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case s.hot.subject == nil:
		s.hot.hash = maphash.Bytes(h.seed, subject)
		if len(subject) <= hotInline {
			s.hot.subject = s.hot.inline[:copy(s.hot.inline[:], subject)]
		} else {
			s.hot.subject = bytes.Clone(subject)
		}
	case !bytes.Equal(s.hot.subject, subject):
		// s's token is the HMAC of the identifier it holds, so this
		// cannot happen. Readers compare the identifier without a lock,
		// so it is never rewritten.
		return
	}
	t := h.table.Load()
	if i, ok := t.find(s.hot.hash, s.hot.subject); ok {
		t.slots[i].Store(s)
		return
	}
	switch {
	case t.live >= h.max:
		t = newHotTable(hotMinSlots)
	case 2*(t.used+1) > len(t.slots):
		t = t.rebuilt()
	default:
		t.insert(s)
		return
	}
	t.insert(s)
	h.table.Store(t)
}

// find returns the slot of the DEK with hash for subject, or the first
// free slot of its probe and false. The caller holds h.mu.
func (t *hotTable) find(hash uint64, subject []byte) (int, bool) {
	mask := uint64(len(t.slots) - 1)
	free := -1
	for i := hash & mask; ; i = (i + 1) & mask {
		s := t.slots[i].Load()
		switch {
		case s == nil:
			if free < 0 {
				free = int(i)
			}
			return free, false
		case s == tombstone:
			if free < 0 {
				free = int(i)
			}
		case s.hot.hash == hash && bytes.Equal(s.hot.subject, subject):
			return int(i), true
		}
	}
}

// insert adds s, whose subject t does not hold. The caller holds h.mu and
// has checked that a slot is free.
func (t *hotTable) insert(s *subjectDEK) {
	i, _ := t.find(s.hot.hash, s.hot.subject)
	if t.slots[i].Load() == nil {
		t.used++
	}
	t.live++
	t.slots[i].Store(s)
}

// rebuilt returns a table with t's DEKs, no tombstones and room for about
// twice as many.
func (t *hotTable) rebuilt() *hotTable {
	n := hotMinSlots
	for n < 3*(t.live+1) {
		n *= 2
	}
	nt := newHotTable(n)
	for i := range t.slots {
		if s := t.slots[i].Load(); s != nil && s != tombstone {
			nt.insert(s)
		}
	}
	return nt
}

func (h *hotCache) remove(subject []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.table.Load()
	if i, ok := t.find(maphash.Bytes(h.seed, subject), subject); ok {
		t.slots[i].Store(tombstone)
		t.live--
	}
}

func (h *hotCache) purge() {
	h.mu.Lock()
	h.table.Store(newHotTable(hotMinSlots))
	h.mu.Unlock()
}
