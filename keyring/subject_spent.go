package keyring

// spentCounts keeps the usage counters of subject DEKs that the cache
// evicted after they sealed, so that a DEK admitted again counts on from
// where it stopped and MaxRecords and MaxBytes hold across eviction. It
// keeps at most max ids, the larger of SubjectCacheSize and minSpent, and
// drops the oldest first when full. Its methods run
// with subjectCache.mu held.
type spentCounts struct {
	max   int
	byID  map[DEKID]spent
	order []DEKID // ids in the order they were kept, used as a ring
	next  int     // the slot of order that the next id replaces once it is full
}

type spent struct {
	records, bytes uint64
	exhausted      bool
	slot           int // the slot of order that holds the id
}

// minSpent is the least number of evicted DEKs whose counters a cache
// keeps, for caches smaller than that.
const minSpent = 4096

func newSpentCounts(max int) spentCounts {
	return spentCounts{max: max, byID: map[DEKID]spent{}}
}

// keep records the counters of s, which is leaving the cache, when it has
// sealed anything. evict marks s dead first, so that a reservation that
// counts on s after this copy fails (see subjectDEK.reserve).
func (c *spentCounts) keep(s *subjectDEK) {
	u := spent{records: s.records.Load(), bytes: s.bytes.Load(), exhausted: s.exhausted.Load()}
	if u.records == 0 && !u.exhausted {
		return
	}
	c.put(s.entry.ID, u)
}

// reserve counts count values of n bytes in all for s, which the cache
// evicted, on the counters kept for it, and reports whether they stay
// within the limits of cfg.
func (c *spentCounts) reserve(s *subjectDEK, count, n int, cfg *config) bool {
	u, ok := c.byID[s.entry.ID]
	if !ok {
		u = spent{records: s.records.Load(), bytes: s.bytes.Load(), exhausted: s.exhausted.Load()}
	}
	if u.exhausted {
		return false
	}
	u.records += uint64(count)
	u.bytes += uint64(n)
	within := u.records <= cfg.maxRecords && u.bytes <= cfg.maxBytes
	u.exhausted = !within
	c.put(s.entry.ID, u)
	return within
}

// put stores u for id, replacing the oldest id kept when c is full.
func (c *spentCounts) put(id DEKID, u spent) {
	if old, ok := c.byID[id]; ok {
		u.slot = old.slot
		c.byID[id] = u
		return
	}
	if len(c.order) < c.max {
		u.slot = len(c.order)
		c.order = append(c.order, id)
	} else {
		u.slot = c.next
		if oldest := c.order[c.next]; c.byID[oldest].slot == c.next {
			delete(c.byID, oldest)
		}
		c.order[c.next] = id
		c.next = (c.next + 1) % c.max
	}
	c.byID[id] = u
}

// restore moves the counters kept for s's id, if any, into s, keeping the
// larger of each.
func (c *spentCounts) restore(s *subjectDEK) {
	u, ok := c.byID[s.entry.ID]
	if !ok {
		return
	}
	delete(c.byID, s.entry.ID)
	if u.records > s.records.Load() {
		s.records.Store(u.records)
	}
	if u.bytes > s.bytes.Load() {
		s.bytes.Store(u.bytes)
	}
	if u.exhausted {
		s.exhausted.Store(true)
	}
}

// exhausted reports whether the DEK with id reached a limit before it was
// evicted.
func (c *spentCounts) exhausted(id DEKID) bool { return c.byID[id].exhausted }

// forget drops the counters of a deleted DEK.
func (c *spentCounts) forget(id DEKID) { delete(c.byID, id) }
