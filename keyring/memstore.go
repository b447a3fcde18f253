package keyring

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryStore is a KeyStore in memory, shared by the Rings of one process.
// Use it in tests and in programs whose producers and consumers all run in
// one process. Delete removes an entry at once, so Residue is always empty.
type MemoryStore struct {
	mu          sync.Mutex
	seq         int64
	entries     map[DEKID]Entry
	byToken     map[Token][]DEKID
	quarantined map[Token]bool
	subs        map[int]func(Change)
	nextSub     int
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{entries: map[DEKID]Entry{}, byToken: map[Token][]DEKID{}, quarantined: map[Token]bool{}, subs: map[int]func(Change){}}
}

// Create stores e and sets its Seq.
func (m *MemoryStore) Create(_ context.Context, e Entry) (Entry, error) {
	m.mu.Lock()
	if _, dup := m.entries[e.ID]; dup {
		m.mu.Unlock()
		return Entry{}, fmt.Errorf("keyring: DEK id %s already stored", e.ID)
	}
	m.seq++
	e.Seq = m.seq
	e.EDEK = bytes.Clone(e.EDEK)
	m.entries[e.ID] = e
	m.byToken[e.Token] = append(m.byToken[e.Token], e.ID)
	subs := m.subscribers()
	m.mu.Unlock()
	notify(subs, Change{Kind: ChangeCreated, ID: e.ID, Token: e.Token})
	return e, nil
}

// Lookup returns the entry with id or ErrNotFound.
func (m *MemoryStore) Lookup(_ context.Context, id DEKID) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return Entry{}, ErrNotFound
	}
	return e, nil
}

// Entries returns the entries of token in Seq order.
func (m *MemoryStore) Entries(_ context.Context, token Token) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Entry, 0, len(m.byToken[token]))
	for _, id := range m.byToken[token] {
		out = append(out, m.entries[id])
	}
	slices.SortFunc(out, bySeq)
	return out, nil
}

// Range calls fn for every entry, in Seq order.
func (m *MemoryStore) Range(_ context.Context, fn func(Entry) bool) error {
	m.mu.Lock()
	all := make([]Entry, 0, len(m.entries))
	for _, e := range m.entries {
		all = append(all, e)
	}
	m.mu.Unlock()
	slices.SortFunc(all, bySeq)
	for _, e := range all {
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// Update replaces the wrapping of the entry with e.ID.
func (m *MemoryStore) Update(_ context.Context, e Entry) error {
	m.mu.Lock()
	cur, ok := m.entries[e.ID]
	if !ok {
		m.mu.Unlock()
		return ErrNotFound
	}
	cur.KEKVersion, cur.EDEK, cur.Wrapped = e.KEKVersion, bytes.Clone(e.EDEK), e.Wrapped
	m.entries[e.ID] = cur
	subs := m.subscribers()
	m.mu.Unlock()
	notify(subs, Change{Kind: ChangeCreated, ID: e.ID, Token: cur.Token})
	return nil
}

// Delete removes the entries with ids.
func (m *MemoryStore) Delete(_ context.Context, token Token, ids []DEKID) error {
	m.mu.Lock()
	for _, id := range ids {
		if e, ok := m.entries[id]; ok {
			delete(m.entries, id)
			m.byToken[e.Token] = slices.DeleteFunc(m.byToken[e.Token], func(v DEKID) bool { return v == id })
		}
	}
	if len(m.byToken[token]) == 0 {
		delete(m.byToken, token)
	}
	subs := m.subscribers()
	m.mu.Unlock()
	for _, id := range ids {
		notify(subs, Change{Kind: ChangeDeleted, ID: id, Token: token})
	}
	return nil
}

// SetQuarantine marks or releases token.
func (m *MemoryStore) SetQuarantine(_ context.Context, token Token, on bool) error {
	m.mu.Lock()
	if on {
		m.quarantined[token] = true
	} else {
		delete(m.quarantined, token)
	}
	subs := m.subscribers()
	m.mu.Unlock()
	notify(subs, Change{Kind: ChangeQuarantined, Token: token})
	return nil
}

// Quarantined reports whether token is quarantined.
func (m *MemoryStore) Quarantined(_ context.Context, token Token) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.quarantined[token], nil
}

// Residue returns nil: a deleted entry leaves nothing behind in memory.
func (m *MemoryStore) Residue(context.Context, []DEKID) ([]DEKID, error) { return nil, nil }

// Subscribe registers fn for every change.
func (m *MemoryStore) Subscribe(fn func(Change)) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextSub
	m.nextSub++
	m.subs[id] = fn
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.subs, id)
	}
}

// subscribers returns a copy of the subscriber list. m.mu is held.
func (m *MemoryStore) subscribers() []func(Change) {
	out := make([]func(Change), 0, len(m.subs))
	for _, fn := range m.subs {
		out = append(out, fn)
	}
	return out
}

func notify(subs []func(Change), c Change) {
	for _, fn := range subs {
		fn(c)
	}
}

func bySeq(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) }
