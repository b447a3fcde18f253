package keyring

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kms"
)

// Ring creates, caches and rotates DEKs for a fixed set of KEKs. It is safe
// for concurrent use. Close stops its rotation check.
type Ring struct {
	cfg   config
	keks  map[string]kms.KEK
	slots map[string]*slot
	// names and slotList repeat slots for a linear scan, which beats a
	// map lookup for the handful of KEKs a process uses.
	names    []string
	slotList []*slot
	cache    *dekCache
	unwrap   flight
	subj     *subjects // nil without WithKeyStore
	aud      *auditor

	closed    atomic.Bool
	stop      chan struct{}
	closeOnce sync.Once
	done      sync.WaitGroup
}

// New returns a Ring for keks, which must have distinct names. Records
// whose descriptor names another KEK fail to open with *UnknownKEKError.
func New(keks []kms.KEK, opts ...Opt) (*Ring, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(keks) == 0 {
		return nil, fmt.Errorf("keyring: no KEK given")
	}

	r := &Ring{
		cfg:   cfg,
		keks:  make(map[string]kms.KEK, len(keks)),
		slots: make(map[string]*slot, len(keks)),
		cache: newDEKCache(cfg.cacheSize, cfg.cacheTTL, cfg.now),
		stop:  make(chan struct{}),
	}
	for i, k := range keks {
		if isNil(k) {
			return nil, fmt.Errorf("keyring: KEK %d is nil", i)
		}
		name := k.Name()
		if _, dup := r.keks[name]; dup {
			return nil, fmt.Errorf("keyring: two KEKs named %q", name)
		}
		if _, err := (&envelope.Descriptor{Algorithm: envelope.AES256GCM, Scope: envelope.ScopeSubject,
			Payload: envelope.PayloadValue, KEKName: name, KeyRef: make([]byte, envelope.DEKIDLen)}).Marshal(); err != nil {
			return nil, fmt.Errorf("keyring: KEK name %q cannot be recorded in a descriptor: %w", name, err)
		}
		r.keks[name] = k
		sl := &slot{}
		r.slots[name] = sl
		r.names = append(r.names, name)
		r.slotList = append(r.slotList, sl)
	}

	if cfg.rotationCheck > 0 {
		r.done.Add(1)
		go r.watchRotation()
	}
	r.startSubjects()
	return r, nil
}

// isNil reports whether k is nil or holds a nil pointer, such as the nil
// *KEK that a failed constructor returns. A k == nil check misses the
// second case, and the first call on such a KEK panics.
func isNil(k kms.KEK) bool {
	if k == nil {
		return true
	}
	v := reflect.ValueOf(k)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// Close stops the rotation check and drops the DEKs the Ring holds. Seal
// and Open return ErrClosed afterwards. The key bytes are left to the
// garbage collector rather than cleared, because a Seal or Open running in
// another goroutine may still use them.
func (r *Ring) Close() {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		close(r.stop)
		r.done.Wait()
		for _, s := range r.slotList {
			if a := s.cur.Swap(nil); a != nil {
				a.retire()
			}
		}
		r.cache.purge()
	})
}

// KEK returns the KEK with the given name and whether it exists.
func (r *Ring) KEK(name string) (kms.KEK, bool) {
	k, ok := r.keks[name]
	return k, ok
}

// Rotate retires the active DEK of the named KEK, so that the next Seal
// creates and wraps a new one under the KEK's current primary version. A
// DEK whose wrap was already in flight is dropped unused. Call it after
// rotating a KEK when waiting for RotationCheck is too slow.
func (r *Ring) Rotate(kekName string) error {
	s := r.slot(kekName)
	if s == nil {
		return &UnknownKEKError{Name: kekName}
	}
	// A wrap already in flight may use the old KEK version, so replace
	// drops the DEK it returns when this count has moved.
	s.rotations.Add(1)
	if a := s.cur.Load(); a != nil {
		a.retire()
	}
	return nil
}

// slot returns the slot of the named KEK, or nil.
func (r *Ring) slot(kekName string) *slot {
	if len(r.names) <= 8 {
		for i, n := range r.names {
			if n == kekName {
				return r.slotList[i]
			}
		}
		return nil
	}
	return r.slots[kekName]
}
