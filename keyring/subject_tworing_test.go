package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// laggingStore is a MemoryStore whose subscribers hear each change after
// a random delay of up to max, so changes also arrive out of order. It is
// a test double for a store that reports changes late, which MemoryStore
// never does: it reports them before Delete or SetQuarantine returns.
type laggingStore struct {
	*keyring.MemoryStore
	max time.Duration
}

func (s laggingStore) Subscribe(fn func(keyring.Change)) func() {
	var mu sync.Mutex
	done := false
	cancel := s.MemoryStore.Subscribe(func(c keyring.Change) {
		go func() {
			time.Sleep(rand.N(s.max))
			mu.Lock()
			defer mu.Unlock()
			if !done {
				fn(c)
			}
		}()
	})
	return func() {
		cancel()
		mu.Lock()
		done = true
		mu.Unlock()
	}
}

// sealEvent is one successful SealSubject.
type sealEvent struct {
	ring    int
	subject int
	dek     string
	startNs int64 // Unix nanoseconds when SealSubject was called
	startOp int64 // admin operations that had returned when it was called
}

// adminOp is one Shred or Quarantine that returned, or Release that began.
type adminOp struct {
	kind    string // "shred", "quarantine", "release"
	subject int
	ids     []string
	atNs    int64
	seq     int64 // position in the order of admin operations
}

// TestTwoRingStress seals from two Rings that share a store, one of them
// hearing changes late and out of order, while the first Ring shreds,
// quarantines and releases subjects. It checks the bounds that the Shred,
// Quarantine and SubjectCacheTTL docs state.
func TestTwoRingStress(t *testing.T) {
	for _, size := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("cache%d", size), func(t *testing.T) { twoRingStress(t, size) })
	}
}

func twoRingStress(t *testing.T, cacheSize int) {
	const (
		ttl      = 5 * time.Millisecond
		lag      = 3 * time.Millisecond
		subjects = 12
	)
	ctx := context.Background()
	mem := keyring.NewMemoryStore()
	keks := []kms.KEK{newKEK(t, "patients")}
	opts := []keyring.Opt{keyring.SubjectCacheSize(cacheSize), keyring.SubjectCacheTTL(ttl), keyring.MaxRecords(3)}
	rings := []*keyring.Ring{
		newRing(t, keks, append(opts, keyring.WithKeyStore(mem))...),
		newRing(t, keks, append(opts, keyring.WithKeyStore(laggingStore{mem, lag}))...),
	}
	subject := func(i int) []byte { return fmt.Appendf(nil, "Patient/%d", i) }

	var mu sync.Mutex
	var seals []sealEvent
	var ops []adminOp
	var opSeq atomic.Int64 // admin operations that have returned
	var otherErrs sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ring := g % 2
			for i := g; ; i += 5 {
				select {
				case <-stop:
					return
				default:
				}
				k := i % subjects
				ev := sealEvent{ring: ring, subject: k, startOp: opSeq.Load(), startNs: time.Now().UnixNano()}
				desc, _, err := rings[ring].SealSubject(ctx, "patients", subject(k), envelope.PayloadValue, nil, []byte("v"), binding)
				if errors.Is(err, keyring.ErrQuarantined) {
					continue
				}
				if err != nil {
					otherErrs.Store(err.Error(), true)
					continue
				}
				d, err := envelope.Parse(desc)
				if err != nil {
					t.Error(err)
					return
				}
				ev.dek = keyring.DEKID(d.KeyRef).String()
				mu.Lock()
				seals = append(seals, ev)
				mu.Unlock()
			}
		}()
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		admin := rings[0]
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := (i * 5) % subjects
			op := adminOp{subject: k}
			switch i % 3 {
			case 0:
				op.kind = "shred"
				res, err := admin.Shred(ctx, subject(k))
				if err != nil {
					// Shred documents this error when sealers keep creating
					// DEKs for an unquarantined subject.
					if !strings.Contains(err.Error(), "another process keeps creating them") {
						otherErrs.Store("Shred: "+err.Error(), true)
					}
					continue
				}
				op.ids = res.IDStrings()
			case 1:
				op.kind = "quarantine"
				if err := admin.Quarantine(ctx, subject(k)); err != nil {
					otherErrs.Store("Quarantine: "+err.Error(), true)
					continue
				}
			case 2:
				op.kind = "release"
				op.atNs = time.Now().UnixNano()
				mu.Lock()
				op.seq = opSeq.Add(1)
				ops = append(ops, op)
				mu.Unlock()
				if err := admin.Release(ctx, subject(k)); err != nil {
					otherErrs.Store("Release: "+err.Error(), true)
				}
				time.Sleep(200 * time.Microsecond)
				continue
			}
			op.atNs = time.Now().UnixNano()
			mu.Lock()
			op.seq = opSeq.Add(1)
			ops = append(ops, op)
			mu.Unlock()
			time.Sleep(200 * time.Microsecond)
		}
	}()

	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	// The other Ring's bound: TTL, one clock step, the documented 110 ms
	// scheduling lag and the notification delay.
	otherBound := (ttl + time.Millisecond + 110*time.Millisecond + lag).Nanoseconds()
	owner := map[string]int{}
	shredOf := map[string]adminOp{} // DEK id to the first Shred that deleted it
	for _, op := range ops {
		for _, id := range op.ids {
			if _, ok := shredOf[id]; !ok {
				shredOf[id] = op
			}
		}
	}
	fails := 0
	report := func(format string, args ...any) {
		if fails < 10 {
			t.Errorf(format, args...)
		}
		fails++
	}
	for _, s := range seals {
		if o, ok := owner[s.dek]; ok && o != s.subject {
			report("subject %d sealed under DEK %s of subject %d", s.subject, s.dek, o)
		}
		owner[s.dek] = s.subject
		if op, ok := shredOf[s.dek]; ok {
			if s.ring == 0 && op.seq <= s.startOp {
				report("ring 0 sealed under DEK %s after its own Shred returned", s.dek)
			}
			if s.ring == 1 && s.startNs-op.atNs > otherBound {
				report("ring 1 sealed under DEK %s %v after Shred returned", s.dek, time.Duration(s.startNs-op.atNs))
			}
		}
		if s.ring == 0 && quarantinedAt(ops, s.subject, s.startOp) {
			report("ring 0 sealed for subject %d after its own Quarantine returned", s.subject)
		}
	}
	otherErrs.Range(func(k, _ any) bool {
		t.Errorf("unexpected error: %v", k)
		return true
	})
	t.Logf("%d seals, %d admin operations, %d DEKs, %d violations", len(seals), len(ops), len(owner), fails)
}

// quarantinedAt reports whether subject was quarantined when the admin
// operations up to position seq had returned: the last Quarantine or
// Release of subject up to seq is a Quarantine, and no Release of subject
// began after seq. A Release that began after seq may have ended before
// the seal read the store, so such a seal is not counted.
func quarantinedAt(ops []adminOp, subject int, seq int64) bool {
	last := ""
	for _, op := range ops {
		if op.subject != subject || op.kind == "shred" {
			continue
		}
		if op.seq > seq {
			if op.kind == "release" {
				return false
			}
			continue
		}
		last = op.kind
	}
	return last == "quarantine"
}
