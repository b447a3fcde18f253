package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// edgeSubjects returns identifiers around the hot cache's inline length,
// with NUL bytes, invalid UTF-8 and shared prefixes.
func edgeSubjects() [][]byte {
	x := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	out := [][]byte{
		{0}, {0, 0}, {0xff}, {0xff, 0xfe, 0xfd}, []byte("a"), []byte("a\x00"), []byte("a\x00b"),
		append(x(64), 'y'), append(x(63), 0), append(x(64), 0),
		bytes.Repeat([]byte{0}, 64), bytes.Repeat([]byte{0}, 65),
		bytes.Repeat([]byte("y"), 1<<20),
		append(bytes.Repeat([]byte("y"), 1<<20-1), 'z'),
	}
	for _, n := range []int{1, 2, 47, 48, 49, 63, 64, 65, 128} {
		out = append(out, x(n))
	}
	return out
}

func TestSealSubjectEdgeIdentifiers(t *testing.T) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	subjects := edgeSubjects()
	owner := map[string]int{}
	for round := range 3 {
		for i, s := range subjects {
			desc, _, err := r.SealSubject(ctx, "patients", s, envelope.PayloadValue, nil, []byte("v"), binding)
			if err != nil {
				t.Fatalf("round %d SealSubject(subject %d, %d bytes) err = %v", round, i, len(s), err)
			}
			id := dekID(t, desc)
			if j, ok := owner[id]; ok && j != i {
				t.Fatalf("subject %d (%d bytes) sealed under DEK %s of subject %d", i, len(s), id, j)
			}
			owner[id] = i
		}
	}
	if len(owner) != len(subjects) {
		t.Fatalf("%d subjects used %d DEKs, want one each", len(subjects), len(owner))
	}
	for i, s := range subjects {
		st, err := r.SubjectState(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.DEKIDs) != 1 || owner[st.DEKIDs[0].String()] != i {
			t.Errorf("SubjectState(subject %d).DEKIDs = %v, want its one DEK", i, st.DEKIDs)
		}
	}
}

// stressLog records which subject each DEK sealed for and which DEKs each
// Shred deleted, to find a seal under another subject's DEK or under a
// DEK that a Shred had deleted before the seal started.
type stressLog struct {
	mu       sync.Mutex
	owner    map[string]int
	shredded map[string]bool // DEK ids deleted by a Shred that returned
	fails    []string
}

func (l *stressLog) sealed(subject int, id string, shreddedBefore map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o, ok := l.owner[id]; ok && o != subject {
		l.fails = append(l.fails, fmt.Sprintf("subject %d sealed under DEK %s of subject %d", subject, id, o))
	}
	l.owner[id] = subject
	if shreddedBefore[id] {
		l.fails = append(l.fails, fmt.Sprintf("subject %d sealed under DEK %s, shredded before the seal started", subject, id))
	}
}

func (l *stressLog) snapshot() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]bool, len(l.shredded))
	for k := range l.shredded {
		m[k] = true
	}
	return m
}

// TestHotPathStress seals from many goroutines with a tiny subject cache,
// a 1 ms cache TTL and a DEK per 3 records, while other goroutines Shred,
// Quarantine and Release subjects in the same Ring. Run it with -race.
func TestHotPathStress(t *testing.T) {
	for _, size := range []int{1, 2, 3, 16} {
		t.Run(fmt.Sprintf("cache%d", size), func(t *testing.T) { hotPathStress(t, size) })
	}
}

func hotPathStress(t *testing.T, cacheSize int) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store),
		keyring.SubjectCacheSize(cacheSize), keyring.SubjectCacheTTL(time.Millisecond), keyring.MaxRecords(3))
	subjects := edgeSubjects()[:22] // without the 1 MiB ones, for speed
	for i := range 40 {
		subjects = append(subjects, fmt.Appendf(nil, "Patient/%d", i))
	}

	log := &stressLog{owner: map[string]int{}, shredded: map[string]bool{}}
	var otherErrs sync.Map
	var seals atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i += 7 {
				select {
				case <-stop:
					return
				default:
				}
				k := i % len(subjects)
				before := log.snapshot()
				desc, _, err := r.SealSubject(ctx, "patients", subjects[k], envelope.PayloadValue, nil, []byte("v"), binding)
				if errors.Is(err, keyring.ErrQuarantined) {
					continue
				}
				if err != nil {
					otherErrs.Store(err.Error(), true)
					continue
				}
				seals.Add(1)
				d, err := envelope.Parse(desc)
				if err != nil {
					t.Error(err)
					return
				}
				log.sealed(k, keyring.DEKID(d.KeyRef).String(), before)
			}
		}()
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s := subjects[(i*5)%len(subjects)]
			switch i % 3 {
			case 0:
				res, err := r.Shred(ctx, s)
				if err != nil {
					otherErrs.Store("Shred: "+err.Error(), true)
					continue
				}
				log.mu.Lock()
				for _, id := range res.DEKIDs {
					log.shredded[id.String()] = true
				}
				log.mu.Unlock()
			case 1:
				if err := r.Quarantine(ctx, s); err != nil {
					otherErrs.Store("Quarantine: "+err.Error(), true)
				}
			case 2:
				if err := r.Release(ctx, s); err != nil {
					otherErrs.Store("Release: "+err.Error(), true)
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()

	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	for _, f := range log.fails {
		t.Error(f)
	}
	otherErrs.Range(func(k, _ any) bool {
		t.Errorf("unexpected error: %v", k)
		return true
	})
	t.Logf("%d seals, %d DEKs", seals.Load(), len(log.owner))
}
