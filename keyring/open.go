package keyring

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kms"
)

// Open opens a sealed value whose parsed descriptor is d and whose encoded
// descriptor is desc, appending the plaintext to dst. It unwraps the EDEK
// only on a cache miss, with one KMS request per EDEK in flight.
func (r *Ring) Open(ctx context.Context, d envelope.Descriptor, desc, dst, sealed []byte, b envelope.Binding) ([]byte, error) {
	dek, err := r.DEK(ctx, d)
	if err != nil {
		return nil, err
	}
	return dek.Open(dst, sealed, desc, b)
}

// streamDEK returns the stream DEK that d names, from the cache or by
// unwrapping it.
func (r *Ring) streamDEK(ctx context.Context, d envelope.Descriptor) (*envelope.DEK, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	if d.Scope != envelope.ScopeStream {
		return nil, fmt.Errorf("%w %d", ErrUnsupportedScope, d.Scope)
	}
	kek, ok := r.keks[d.KEKName]
	if !ok {
		return nil, &UnknownKEKError{Name: d.KEKName}
	}
	if dek := r.cache.get(d.KEKName, d.KEKVersion, d.KeyRef); dek != nil {
		return dek, nil
	}
	return r.unwrap.do(ctx, flightKey(d), r.cfg.failureBackoff, r.cfg.now, func() (*envelope.DEK, error) {
		// A call that finished between the cache check above and this
		// flight has cached the DEK already: do not unwrap it twice.
		if dek := r.cache.get(d.KEKName, d.KEKVersion, d.KeyRef); dek != nil {
			return dek, nil
		}
		raw, err := kek.Unwrap(ctx, wrappedOf(d), r.cfg.wrapContext)
		if err != nil {
			return nil, fmt.Errorf("keyring: unwrap DEK: %w", err)
		}
		dek, err := envelope.NewDEKFromBytes(raw)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("keyring: unwrapped DEK from KEK %q version %d: %w", d.KEKName, d.KEKVersion, err)
		}
		r.cache.add(d.KEKName, d.KEKVersion, d.KeyRef, dek)
		return dek, nil
	})
}

// flight runs one unwrap per key at a time and remembers a failure for a
// short back-off, so a KMS outage is not hit once per record.
type flight struct {
	mu    sync.Mutex
	calls map[string]*unwrapCall
}

type unwrapCall struct {
	done     chan struct{}
	dek      *envelope.DEK
	err      error
	finished time.Time
}

// maxRememberedFailures bounds the failures kept for their back-off when
// many distinct EDEKs fail at once, as in a KMS outage.
const maxRememberedFailures = 1024

// sweep drops finished calls whose back-off is over. f.mu is held.
func (f *flight) sweep(backoff time.Duration, now func() time.Time) {
	for k, c := range f.calls {
		select {
		case <-c.done:
			if now().Sub(c.finished) >= backoff || len(f.calls) >= maxRememberedFailures {
				delete(f.calls, k)
			}
		default:
		}
	}
}

func (f *flight) do(ctx context.Context, key string, backoff time.Duration, now func() time.Time, fn func() (*envelope.DEK, error)) (*envelope.DEK, error) {
	for {
		f.mu.Lock()
		if f.calls == nil {
			f.calls = map[string]*unwrapCall{}
		}
		c, ok := f.calls[key]
		if ok {
			select {
			case <-c.done:
				if now().Sub(c.finished) < backoff {
					f.mu.Unlock()
					return nil, c.err
				}
				delete(f.calls, key)
				ok = false
			default:
			}
		}
		if ok {
			f.mu.Unlock()
			select {
			case <-c.done:
				if c.err != nil && ctx.Err() == nil && isContextErr(c.err) {
					continue // the leader's context ended, not ours
				}
				return c.dek, c.err
			case <-ctx.Done():
				return nil, fmt.Errorf("keyring: waiting for an unwrap: %w", ctx.Err())
			}
		}
		if len(f.calls) >= maxRememberedFailures {
			f.sweep(backoff, now)
		}
		c = &unwrapCall{done: make(chan struct{})}
		f.calls[key] = c
		f.mu.Unlock()

		c.dek, c.err = fn()
		f.mu.Lock()
		c.finished = now()
		if c.err == nil || isContextErr(c.err) {
			delete(f.calls, key) // successes live in the cache, not here
		}
		close(c.done)
		f.mu.Unlock()
		return c.dek, c.err
	}
}

func wrappedOf(d envelope.Descriptor) kms.Wrapped {
	return kms.Wrapped{Version: d.KEKVersion, Ciphertext: d.KeyRef}
}

// flightKey identifies one unwrap: the same EDEK bytes under another KEK
// name or version, as a forged descriptor may claim, is another unwrap,
// so its failure cannot stand in for the genuine one.
func flightKey(d envelope.Descriptor) string {
	return d.KEKName + "\x00" + strconv.FormatUint(uint64(d.KEKVersion), 10) + "\x00" + string(d.KeyRef)
}
