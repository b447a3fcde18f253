package keyring

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
)

// subjects is the subject-key state of a Ring.
type subjects struct {
	store    KeyStore
	cache    *subjectCache
	resolves group[activeKey, resolved]
	keks     []string    // names of the Ring's KEKs, for eviction
	hot      []*hotCache // one per KEK, also held by its slot
	clock    *coarseClock

	tokenKey   atomic.Pointer[tokenKey]
	tokenMu    sync.Mutex
	tokenErr   error
	tokenErrAt time.Time

	wrapErr atomic.Pointer[failure] // last failed wrap, for the back-off
}

type failure struct {
	err error
	at  time.Time
}

// tokenKey computes subject tokens. The HMAC instances are pooled because
// hmac.New allocates two hash states.
type tokenKey struct {
	pool sync.Pool
}

// tokenHash is a pooled HMAC with a buffer for its sum, so that computing
// a token allocates nothing.
type tokenHash struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func newTokenKey(key []byte) *tokenKey {
	k := append([]byte(nil), key...)
	tk := &tokenKey{}
	tk.pool.New = func() any { return &tokenHash{h: hmac.New(sha256.New, k)} }
	return tk
}

func (tk *tokenKey) token(subject []byte) Token {
	th := tk.pool.Get().(*tokenHash)
	th.h.Reset()
	th.h.Write(subject)
	t := Token(th.h.Sum(th.sum[:0]))
	tk.pool.Put(th)
	return t
}

// startSubjects prepares subject keys when a key store is configured and
// starts the audit flusher. New calls it once.
func (r *Ring) startSubjects() {
	r.aud = newAuditor(r.cfg.audit, r.cfg.now, r.cfg.logger)
	if r.cfg.audit.sink != nil {
		r.done.Add(1)
		go r.flushAudit()
	}
	store := r.cfg.subject.store
	if store == nil {
		return
	}
	s := &subjects{store: store, cache: newSubjectCache(r.cfg.subject.cacheSize), keks: r.names}
	for _, sl := range r.slotList {
		sl.hot = newHotCache(r.cfg.subject.cacheSize)
		s.hot = append(s.hot, sl.hot)
	}
	s.clock = newCoarseClock(clockStep(r.cfg.subject.cacheTTL))
	cancel := store.Subscribe(s.apply)
	r.subj = s
	r.done.Add(2)
	go func() {
		defer r.done.Done()
		s.clock.run(r.cfg.now, r.stop)
	}()
	go func() {
		defer r.done.Done()
		<-r.stop
		cancel()
		s.cache.purge()
		for _, h := range s.hot {
			h.purge()
		}
	}()
}

// apply evicts cached DEKs after a change in the store. It runs in the
// store's goroutine and must not block.
func (s *subjects) apply(c Change) {
	switch c.Kind {
	case ChangeDeleted:
		s.cache.forget(c.ID, c.Token)
	case ChangeQuarantined:
		s.cache.quarantined(c.Token, s.keks)
	case ChangeCreated:
		s.cache.expireSubject(c.Token, s.keks)
	}
}

// SealSubject seals plaintext for binding b under the current DEK of
// subject and the named KEK, appending the sealed value to dst. It
// returns the encoded descriptor, which carries the DEK id and must not
// be modified, and the sealed value.
//
// subject identifies the data subject, such as a FHIR patient reference.
// It is PHI, so the Ring turns it into a token (HMAC-SHA-256 under the
// store's token key) at once and stores, logs and reports only the token
// or the DEK id. When the subject's DEK is cached, SealSubject makes no
// KMS call and no key-store round trip. It returns ErrQuarantined for a
// quarantined subject.
//
// NOTE: with 10,000 active subjects sealed in turn, values of 100 bytes
// to 1 KiB seal at 0.71 to 0.79 times the stream-key rate on a 2-core
// Xeon, below the 0.8 aimed for. Each seal reads about ten cache lines of
// key schedule, which 10,000 DEKs push out of L2. Through kafka.Producer,
// 1 KiB values reach 0.79 to 0.83 and the sample FHIR resources 0.83 to
// 0.85, while 100-byte values stay at 0.67 to 0.72. BENCHMARKS.md has the
// figures.
func (r *Ring) SealSubject(ctx context.Context, kekName string, subject []byte, p envelope.Payload, dst, plaintext []byte, b envelope.Binding) (desc, sealed []byte, err error) {
	hot, err := r.subjectCall(kekName, subject)
	if err != nil {
		return nil, nil, err
	}
	if p < envelope.PayloadValue || p > envelope.PayloadHeader {
		return nil, nil, fmt.Errorf("keyring: unknown payload kind %d", p)
	}
	h := hot.get(subject)
	if h != nil && h.reserve(1, len(plaintext), &r.cfg, r.subj.clock.now()) {
		return h.descs[p], h.dek.Seal(dst, plaintext, h.descs[p], b), nil
	}
	s, err := r.reserveSlow(ctx, hot, kekName, subject, h, 1, len(plaintext), b.Topic)
	if err != nil {
		return nil, nil, err
	}
	return s.descs[p], s.dek.Seal(dst, plaintext, s.descs[p], b), nil
}

// maxStuckAttempts bounds the resolves in one reserveSlow that find no new
// DEK, and maxReplacedDEKs those that find one that other callers then
// use up before this one can.
const (
	maxStuckAttempts = 8
	maxReplacedDEKs  = 64
)

// reserveSlow is the path of SealSubject and ReserveSubject when the hot
// cache has no usable DEK for subject: h is the DEK the hot cache holds
// for subject, or nil. It finds or creates the subject's current DEK, reserves count
// values of n bytes in all on it and makes it the hot entry.
func (r *Ring) reserveSlow(ctx context.Context, hot *hotCache, kekName string, subject []byte, h *subjectDEK, count, n int, topic string) (*subjectDEK, error) {
	var token Token
	if h != nil {
		token = h.entry.Token
	} else {
		var err error
		if token, err = r.subjectToken(ctx, subject); err != nil {
			return nil, err
		}
	}
	key := activeKey{token, kekName}
	// A resolve that finds a new DEK makes progress even when other
	// callers use it up first, so only resolves that find none count
	// towards maxStuckAttempts.
	for attempt, replaced := 0, 0; ; {
		s := r.subj.cache.current(key)
		if s != nil && s.reserve(count, n, &r.cfg, r.cfg.now().UnixNano()) {
			r.subj.clock.start(r.cfg.now)
			hot.put(subject, s)
			return s, nil
		}
		switch {
		case attempt == maxStuckAttempts:
			return nil, fmt.Errorf("keyring: no usable subject DEK for KEK %q after %d attempts", kekName, attempt)
		case replaced == maxReplacedDEKs:
			return nil, fmt.Errorf("keyring: other callers used up %d new DEKs of one subject under KEK %q before this call could use one: raise MaxRecords (%d) or MaxBytes (%d)",
				replaced, kekName, r.cfg.maxRecords, r.cfg.maxBytes)
		}
		// ErrShredded here means a Shred deleted the DEK that the resolve
		// read or created; the next attempt creates a new generation.
		start := r.cfg.now().UnixNano()
		got, err := r.resolveSubject(ctx, key, s, topic)
		if errors.Is(err, ErrShredded) || (err == nil && got.dek == nil) {
			attempt++
			continue
		}
		if err != nil {
			return nil, err
		}
		if s == nil || got.dek.entry.ID != s.entry.ID {
			replaced++
		} else {
			attempt++
		}
		// The resolved DEK is checked against the time before the resolve,
		// because the resolve read the store after it: a resolve slower
		// than SubjectCacheTTL does not make its own result stale.
		if got.dek.reserve(count, n, &r.cfg, start) {
			r.subj.clock.start(r.cfg.now)
			hot.put(subject, got.dek)
			return got.dek, nil
		}
		// A concurrent resolve for another subject may have evicted it
		// from a full cache. It still serves this one call, uncached.
		if r.subj.cache.reserveEvicted(got.dek, got.since, count, n, &r.cfg, start) {
			return got.dek, nil
		}
	}
}

// subjectCall checks the arguments of a subject-key call and returns the
// hot cache of the named KEK.
func (r *Ring) subjectCall(kekName string, subject []byte) (*hotCache, error) {
	switch {
	case r.closed.Load():
		return nil, ErrClosed
	case r.subj == nil:
		return nil, ErrNoKeyStore
	case len(subject) == 0:
		return nil, ErrNoSubject
	}
	sl := r.slot(kekName)
	if sl == nil {
		return nil, &UnknownKEKError{Name: kekName}
	}
	return sl.hot, nil
}

// KeyStore returns the store set with WithKeyStore, or nil.
func (r *Ring) KeyStore() KeyStore { return r.cfg.subject.store }
