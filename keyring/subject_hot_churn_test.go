package keyring

import "testing"

// The hot table must stay bounded under churn: subjects sealed once and
// shredded (tombstones), and more distinct subjects than the cache holds.
func TestHotCacheChurnBounded(t *testing.T) {
	const max = 1 << 10
	h := newHotCache(max)
	peak := 0
	for i := range 200_000 {
		h.put(hotSubject(i), hotDEK(i))
		if i%3 == 0 {
			h.remove(hotSubject(i))
		}
		if i%7 == 0 {
			h.remove(hotSubject(i - 5))
		}
		peak = maxInt(peak, len(h.table.Load().slots))
	}
	tb := h.table.Load()
	if peak > 4*max {
		t.Errorf("table grew to %d slots for a cache of %d subjects", peak, max)
	}
	if tb.live > max || tb.used > len(tb.slots)/2 {
		t.Errorf("live = %d, used = %d of %d slots", tb.live, tb.used, len(tb.slots))
	}
	t.Logf("peak %d slots, final live %d used %d of %d", peak, tb.live, tb.used, len(tb.slots))
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
