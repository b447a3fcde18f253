package keyring

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
)

// subjectDEK is an unwrapped subject DEK with its usage counters. One
// object per DEK id is shared by the sealing and the opening paths, so
// its counters survive revalidation. The fields every seal reads come
// first, so that they share cache lines.
type subjectDEK struct {
	// dead is set when the store reports the entry deleted, and when the
	// cache drops it; evicted is set before dead in the second case.
	dead    atomic.Bool
	evicted atomic.Bool
	// exhausted is set when a limit is reached; the next seal creates
	// the next generation.
	exhausted atomic.Bool
	// expires is when sealing under the entry must check the store again,
	// in Unix nanoseconds, and openExpires the same for opening. Opening
	// never extends expires, so reading a record neither undoes a
	// quarantine nor makes an older generation current again.
	expires     atomic.Int64
	openExpires atomic.Int64
	records     atomic.Uint64
	bytes       atomic.Uint64
	created     int64 // entry.Created in Unix nanoseconds
	dek         *envelope.DEK
	// descs holds the encoded descriptor for each payload kind.
	descs [envelope.PayloadHeader + 1][]byte
	// hot is the subject identifier, set when a hotCache first holds s.
	hot   hotKey
	entry Entry
}

func newSubjectDEK(e Entry, dek *envelope.DEK) (*subjectDEK, error) {
	s := &subjectDEK{entry: e, dek: dek, created: e.Created.UnixNano()}
	for p := envelope.PayloadValue; p <= envelope.PayloadHeader; p++ {
		d := envelope.Descriptor{Algorithm: envelope.AES256GCM, Scope: envelope.ScopeSubject, Payload: p,
			KEKName: e.KEKName, KEKVersion: e.KEKVersion, KeyRef: e.ID[:]}
		var err error
		if s.descs[p], err = d.Marshal(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// revive returns a live copy of s, which was dropped from the cache while
// its entry stayed in the store, with s's usage counters.
func (s *subjectDEK) revive() (*subjectDEK, error) {
	n, err := newSubjectDEK(s.entry, s.dek)
	if err != nil {
		return nil, err
	}
	n.records.Store(s.records.Load())
	n.bytes.Store(s.bytes.Load())
	n.exhausted.Store(s.exhausted.Load())
	return n, nil
}

// reserve counts count values of n bytes in all against s's limits and
// reports whether s may seal them at now, in Unix nanoseconds.
//
// NOTE: the counters are per process. N processes that seal for the same
// subject can together seal up to N times MaxRecords under one DEK before
// each replaces it, so MaxRecords must stay far enough below 2^32 for the
// number of producer processes (the default 2^24 allows 256). A DEK that
// leaves the cache keeps its counts among the last SubjectCacheSize (at
// least 4,096) DEKs evicted after sealing. One evicted longer ago counts
// from zero again.
func (s *subjectDEK) reserve(count, n int, c *config, now int64) bool {
	if s.dead.Load() || !s.count(count, n, c, now) {
		return false
	}
	// An eviction that marked s dead meanwhile may have copied the
	// counters before this count: fail rather than seal uncounted.
	return !s.dead.Load()
}

// count is reserve without the checks of dead.
func (s *subjectDEK) count(count, n int, c *config, now int64) bool {
	if s.exhausted.Load() || now >= s.expires.Load() {
		return false
	}
	if time.Duration(now-s.created) >= c.subject.maxAge {
		s.exhausted.Store(true)
		return false
	}
	if s.records.Add(uint64(count)) > c.maxRecords || s.bytes.Add(uint64(n)) > c.maxBytes {
		s.exhausted.Store(true)
		return false
	}
	return true
}

type activeKey struct {
	token Token
	kek   string
}

// subjectCache holds the subject DEKs of one Ring: by id for opening, and
// the current one per subject and KEK for sealing. Both maps are bounded
// by the same size and evict expired entries first.
//
// It also keeps a log of the deletions and quarantines the store reported
// (see changeLog), so that a DEK read from the store before such a change
// and unwrapped after it is never cached: see mark and addIf.
type subjectCache struct {
	mu     sync.RWMutex
	max    int
	byID   map[DEKID]*subjectDEK
	active map[activeKey]*subjectDEK
	log    changeLog
	spent  spentCounts // counters of evicted DEKs
}

func newSubjectCache(size int) *subjectCache {
	return &subjectCache{max: size, byID: map[DEKID]*subjectDEK{}, active: map[activeKey]*subjectDEK{}, spent: newSpentCounts(max(size, minSpent))}
}

// exhausted reports whether the DEK with id reached a limit in this
// process, cached or evicted since.
func (c *subjectCache) exhausted(id DEKID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if s := c.byID[id]; s != nil && s.exhausted.Load() {
		return true
	}
	return c.spent.exhausted(id)
}

func (c *subjectCache) current(k activeKey) *subjectDEK {
	c.mu.RLock()
	s := c.active[k]
	c.mu.RUnlock()
	return s
}

func (c *subjectCache) get(id DEKID) *subjectDEK {
	c.mu.RLock()
	s := c.byID[id]
	c.mu.RUnlock()
	return s
}

// addIf caches s by id, valid for opening until expires (Unix
// nanoseconds), and, when sealing is true, as the current DEK of its
// subject and KEK, valid for sealing until expires too. It returns
// the object cached for s's id, which is an equal live object that was
// cached before, or s itself. The expiry is set under c.mu, so that a
// quarantine logged after addIf expires the DEK again. It returns
// false and caches nothing when s is dead, or the store reported the
// deletion of s, or (when sealing) a quarantine change of its subject,
// after mark returned since. Because forget logs a change before it drops
// the DEK, no change the store reports is lost: either addIf finds it in
// the log, or forget finds s in the cache.
func (c *subjectCache) addIf(s *subjectDEK, sealing bool, now time.Time, since uint64, expires int64) (*subjectDEK, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.dead.Load() || c.log.touched(since, s.entry, sealing) {
		return nil, false
	}
	if old := c.byID[s.entry.ID]; old != nil && !old.dead.Load() {
		s = old
	} else {
		c.spent.restore(s) // before shrink keeps counters that may push these out
		if len(c.byID) >= c.max {
			c.shrink(now)
		}
		c.byID[s.entry.ID] = s
	}
	s.openExpires.Store(expires)
	if sealing {
		s.expires.Store(expires)
		c.active[activeKey{s.entry.Token, s.entry.KEKName}] = s
	}
	return s, true
}

// mark returns the position in the change log to pass to addIf. Take it
// before reading the store.
func (c *subjectCache) mark() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.log.next
}

// shrink drops expired and dead entries and, if that is not enough, an
// eighth of the cache chosen by map order. c.mu is held.
func (c *subjectCache) shrink(now time.Time) {
	n := now.UnixNano()
	for id, s := range c.byID {
		if s.dead.Load() || max(s.expires.Load(), s.openExpires.Load()) <= n {
			c.evict(id, s)
		}
	}
	for id, s := range c.byID {
		if len(c.byID) <= c.max-c.max/8-1 {
			break
		}
		c.evict(id, s)
	}
}

// evict is drop for a DEK that leaves the cache for room or age, not
// because the store deleted it. c.mu is held.
func (c *subjectCache) evict(id DEKID, s *subjectDEK) {
	s.evicted.Store(true)
	if a := c.active[activeKey{s.entry.Token, s.entry.KEKName}]; a != nil && a.entry.ID == id {
		a.evicted.Store(true)
	}
	c.drop(id, s)
	c.spent.keep(s) // after drop marked s dead; see subjectDEK.reserve
}

// reserveEvicted reserves count values of n bytes in all on s, which evict
// dropped after a resolve admitted it, when the store has reported
// neither its deletion nor a quarantine of its subject since position
// since of the change log. It counts them on the DEK's object if the
// cache admitted it again, else on the counters kept for it, so that the
// limits hold.
func (c *subjectCache) reserveEvicted(s *subjectDEK, since uint64, count, n int, cfg *config, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.evicted.Load() || c.log.touched(since, s.entry, true) {
		return false
	}
	if now >= s.expires.Load() || time.Duration(now-s.created) >= cfg.subject.maxAge {
		return false
	}
	if live := c.byID[s.entry.ID]; live != nil && !live.dead.Load() {
		return live.reserve(count, n, cfg, now)
	}
	return c.spent.reserve(s, count, n, cfg)
}

// drop removes s and marks it dead, so that a hot-cache entry pointing to
// it, which no store notification can reach any more, is not used again.
func (c *subjectCache) drop(id DEKID, s *subjectDEK) {
	s.dead.Store(true)
	delete(c.byID, id)
	k := activeKey{s.entry.Token, s.entry.KEKName}
	if a := c.active[k]; a != nil && a.entry.ID == id {
		a.dead.Store(true)
		delete(c.active, k)
	}
}

// forget logs the deletion of the DEK with id, of token, and drops it.
func (c *subjectCache) forget(id DEKID, token Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log.add(change{id: id, token: token})
	c.spent.forget(id)
	if s, ok := c.byID[id]; ok {
		c.drop(id, s)
	}
}

// remove drops the DEK with id, if cached, without logging a change.
func (c *subjectCache) remove(id DEKID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.byID[id]; ok {
		c.drop(id, s)
	}
}

// expireSubject makes the next seal for token under each of keks check the
// store again.
func (c *subjectCache) expireSubject(token Token, keks []string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.expire(token, keks)
}

// quarantined logs a quarantine change of token and expires its DEKs.
func (c *subjectCache) quarantined(token Token, keks []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log.add(change{token: token, quarantine: true})
	c.expire(token, keks)
}

// expire is expireSubject. c.mu is held.
func (c *subjectCache) expire(token Token, keks []string) {
	for _, kek := range keks {
		if s := c.active[activeKey{token, kek}]; s != nil {
			s.expires.Store(0)
		}
	}
}

func (c *subjectCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, s := range c.byID {
		c.drop(id, s)
	}
}
