package keyring

import "testing"

func spentDEK(id byte, records uint64, exhausted bool) *subjectDEK {
	s := &subjectDEK{entry: Entry{ID: DEKID{id}}}
	s.records.Store(records)
	s.bytes.Store(records * 10)
	s.exhausted.Store(exhausted)
	return s
}

func TestSpentCountsRestore(t *testing.T) {
	c := newSpentCounts(4)
	c.keep(spentDEK(1, 3, false))
	c.keep(spentDEK(2, 0, false)) // never sealed: nothing to keep
	if len(c.byID) != 1 {
		t.Fatalf("kept %d ids, want 1", len(c.byID))
	}
	fresh := spentDEK(1, 0, false)
	c.restore(fresh)
	if got := fresh.records.Load(); got != 3 {
		t.Errorf("records after restore = %d, want 3", got)
	}
	if got := fresh.bytes.Load(); got != 30 {
		t.Errorf("bytes after restore = %d, want 30", got)
	}
	if _, ok := c.byID[DEKID{1}]; ok {
		t.Error("restore left the id kept")
	}
	// A revived object may already count more than was kept.
	c.keep(spentDEK(1, 3, false))
	ahead := spentDEK(1, 5, false)
	c.restore(ahead)
	if got := ahead.records.Load(); got != 5 {
		t.Errorf("records after restore into a larger count = %d, want 5", got)
	}
}

func TestSpentCountsExhaustedAndForget(t *testing.T) {
	c := newSpentCounts(4)
	c.keep(spentDEK(1, 0, true))
	if !c.exhausted(DEKID{1}) {
		t.Error("exhausted DEK not reported exhausted after eviction")
	}
	c.forget(DEKID{1})
	if c.exhausted(DEKID{1}) {
		t.Error("deleted DEK still kept")
	}
}

func TestSpentCountsForgetsOldestFirst(t *testing.T) {
	c := newSpentCounts(2)
	c.keep(spentDEK(1, 1, false))
	c.keep(spentDEK(2, 1, false))
	// Id 1 comes back and leaves again, so id 2 is now the oldest kept.
	c.restore(spentDEK(1, 0, false))
	c.keep(spentDEK(1, 2, false))
	c.keep(spentDEK(3, 1, false))
	if _, ok := c.byID[DEKID{2}]; ok {
		t.Error("id 2, the oldest, still kept")
	}
	for _, id := range []byte{1, 3} {
		if _, ok := c.byID[DEKID{id}]; !ok {
			t.Errorf("id %d not kept", id)
		}
	}
	if got := c.byID[DEKID{1}].records; got != 2 {
		t.Errorf("id 1 records = %d, want its latest count 2", got)
	}
}

func TestSpentCountsReserve(t *testing.T) {
	c := newSpentCounts(4)
	cfg := &config{maxRecords: 3, maxBytes: 100}
	s := spentDEK(1, 0, false) // evicted before it sealed: nothing kept yet
	for i := range 3 {
		if !c.reserve(s, 1, 10, cfg) {
			t.Fatalf("reserve %d within MaxRecords 3 = false", i+1)
		}
	}
	if c.reserve(s, 1, 10, cfg) {
		t.Error("reserve past MaxRecords 3 = true")
	}
	if !c.exhausted(DEKID{1}) {
		t.Error("DEK not exhausted after reaching MaxRecords")
	}
	fresh := spentDEK(1, 0, false)
	c.restore(fresh)
	if !fresh.exhausted.Load() || fresh.records.Load() != 4 {
		t.Errorf("restored DEK = %d records, exhausted %v; want 4, true", fresh.records.Load(), fresh.exhausted.Load())
	}
}
