package keyring

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"
)

func hotSubject(i int) []byte { return fmt.Appendf(nil, "Patient/%08d", i) }

// hotDEK returns a subjectDEK for the hot cache tests, which need only a
// distinct object per subject and generation.
func hotDEK(i int) *subjectDEK { return &subjectDEK{entry: Entry{Token: Token{byte(i), byte(i >> 8)}}} }

func TestHotCacheGetPutAcrossGrowth(t *testing.T) {
	h := newHotCache(1 << 16)
	const n = 5000
	deks := make([]*subjectDEK, n)
	for i := range n {
		deks[i] = hotDEK(i)
		h.put(hotSubject(i), deks[i])
	}
	for i := range n {
		if got := h.get(hotSubject(i)); got != deks[i] {
			t.Fatalf("get(subject %d) = %p, want %p", i, got, deks[i])
		}
	}
	if got := h.get([]byte("Patient/unknown")); got != nil {
		t.Errorf("get(unknown subject) = %p, want nil", got)
	}
	if tb := h.table.Load(); 2*tb.used > len(tb.slots) {
		t.Errorf("table has %d of %d slots used, want at most half", tb.used, len(tb.slots))
	}
}

func TestHotCachePutReplacesTheSubjectsDEK(t *testing.T) {
	h := newHotCache(16)
	old, next := hotDEK(1), hotDEK(2)
	h.put([]byte("Patient/1"), old)
	h.put([]byte("Patient/1"), next)
	if got := h.get([]byte("Patient/1")); got != next {
		t.Fatalf("get after replacement = %p, want the new DEK %p", got, next)
	}
	if live := h.table.Load().live; live != 1 {
		t.Errorf("live = %d after replacing one subject's DEK, want 1", live)
	}
}

func TestHotCacheRemoveLeavesOtherSubjects(t *testing.T) {
	h := newHotCache(1 << 10)
	for i := range 100 {
		h.put(hotSubject(i), hotDEK(i))
	}
	for i := 0; i < 100; i += 2 {
		h.remove(hotSubject(i))
	}
	h.remove([]byte("Patient/never-added"))
	for i := range 100 {
		got := h.get(hotSubject(i))
		if removed := i%2 == 0; removed != (got == nil) {
			t.Errorf("subject %d: get = %p, removed = %v", i, got, removed)
		}
	}
	// Removed slots are tombstones; putting the subjects back reuses them.
	for i := 0; i < 100; i += 2 {
		h.put(hotSubject(i), hotDEK(i))
	}
	for i := range 100 {
		if h.get(hotSubject(i)) == nil {
			t.Errorf("subject %d missing after it was put back", i)
		}
	}
	if live := h.table.Load().live; live != 100 {
		t.Errorf("live = %d, want 100", live)
	}
}

func TestHotCacheEmptiesWhenFull(t *testing.T) {
	h := newHotCache(8)
	for i := range 8 {
		h.put(hotSubject(i), hotDEK(i))
	}
	h.put(hotSubject(8), hotDEK(8))
	if h.get(hotSubject(0)) != nil {
		t.Error("a full cache kept its old subjects after a new one was put")
	}
	if h.get(hotSubject(8)) == nil {
		t.Error("the subject put into a full cache is missing")
	}
	// Replacing the DEK of a subject the full cache holds empties nothing.
	for i := 9; i < 16; i++ {
		h.put(hotSubject(i), hotDEK(i))
	}
	h.put(hotSubject(8), hotDEK(100))
	if h.get(hotSubject(9)) == nil {
		t.Error("replacing a DEK in a full cache emptied it")
	}
}

func TestHotCacheLongSubject(t *testing.T) {
	h := newHotCache(16)
	long := bytes.Repeat([]byte("x"), hotInline+1)
	s := hotDEK(1)
	h.put(long, s)
	long[0] = 'y' // the cache keeps its own copy
	if h.get(long) != nil {
		t.Error("get found a subject by a changed identifier")
	}
	long[0] = 'x'
	if h.get(long) != s {
		t.Error("get missed a subject longer than hotInline")
	}
	if h.get(long[:hotInline]) != nil {
		t.Error("get matched a prefix of a long subject")
	}
}

func TestHotCacheKeepsTheFirstIdentifierOfADEK(t *testing.T) {
	// A DEK belongs to the one subject whose HMAC is its token, so a
	// second put with another identifier is a caller bug. It must not
	// rewrite the identifier that readers compare without a lock.
	h := newHotCache(16)
	s := hotDEK(1)
	h.put([]byte("Patient/1"), s)
	h.put([]byte("Patient/2"), s)
	if got := string(s.hot.subject); got != "Patient/1" {
		t.Errorf("identifier = %q, want Patient/1", got)
	}
	if h.get([]byte("Patient/2")) != nil {
		t.Error("get found the DEK under the second identifier")
	}
	if live := h.table.Load().live; live != 1 {
		t.Errorf("live = %d, want 1", live)
	}
}

func TestHotCachePurge(t *testing.T) {
	h := newHotCache(16)
	h.put([]byte("Patient/1"), hotDEK(1))
	h.purge()
	if h.get([]byte("Patient/1")) != nil {
		t.Error("get found a subject after purge")
	}
}

// TestHotCacheConcurrentReaders runs lock-free readers against writers
// that put, replace, remove and grow; run it with -race. A reader must
// get nil or a DEK of the subject it asked for, never another's.
func TestHotCacheConcurrentReaders(t *testing.T) {
	h := newHotCache(300)
	const subjects = 500
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := (i*7 + w) % subjects
				if i%5 == 0 {
					h.remove(hotSubject(k))
				} else {
					h.put(hotSubject(k), hotDEK(k))
				}
			}
		}()
	}

	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				subj := hotSubject(i % subjects)
				if s := h.get(subj); s != nil && !bytes.Equal(s.hot.subject, subj) {
					errs <- fmt.Errorf("get(%q) returned the DEK of %q", subj, s.hot.subject)
					return
				}
			}
		}()
	}

	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClockStep(t *testing.T) {
	for _, tc := range []struct{ ttl, want time.Duration }{
		{DefaultSubjectCacheTTL, 50 * time.Millisecond},
		{400 * time.Millisecond, 25 * time.Millisecond},
		{10 * time.Millisecond, time.Millisecond},
	} {
		if got := clockStep(tc.ttl); got != tc.want {
			t.Errorf("clockStep(%v) = %v, want %v", tc.ttl, got, tc.want)
		}
	}
}

func TestCoarseClockAdvances(t *testing.T) {
	c := newCoarseClock(time.Millisecond)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { c.run(time.Now, stop); close(done) }()
	time.Sleep(5 * time.Millisecond)
	if c.now() != 0 {
		t.Fatal("coarse clock stepped before start")
	}
	c.start(time.Now)
	start := time.Now()
	for c.now() < start.UnixNano() {
		if time.Since(start) > 5*time.Second {
			t.Fatal("coarse clock did not advance within 5 s at a 1 ms step")
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-done
}
