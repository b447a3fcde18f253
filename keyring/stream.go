package keyring

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kms"
)

// slot holds the active DEK of one KEK and serialises its replacement.
type slot struct {
	cur atomic.Pointer[activeDEK]
	hot *hotCache // subject DEKs of the same KEK; nil without a key store
	// rotations counts Ring.Rotate calls, so that replace can tell that a
	// wrap it started may have used the KEK version Rotate meant to leave.
	// rotations counts Ring.Rotate calls and rotations that the
	// RotationCheck watcher noticed; a DEK whose wrap overlapped one is
	// dropped unused.
	rotations atomic.Uint64

	mu        sync.Mutex
	pending   *call // the wrap in flight, if any
	failedAt  time.Time
	failedErr error
}

// activeDEK is a stream DEK with its usage counters.
type activeDEK struct {
	dek        *envelope.DEK
	kekVersion uint32
	edek       []byte
	// descs holds the encoded descriptor for each payload kind, built once
	// so that Seal encodes nothing per record.
	descs [envelope.PayloadHeader + 1][]byte
	// records counts reserved nonces. Retiring stores retiredMark, so
	// that reserve needs no separate flag: every later Add exceeds any
	// limit.
	records atomic.Uint64
	bytes   atomic.Uint64
	timer   *time.Timer
}

const retiredMark = 1 << 62

func (a *activeDEK) retire() {
	a.records.Store(retiredMark)
	if a.timer != nil {
		a.timer.Stop()
	}
}

func (a *activeDEK) retired() bool { return a.records.Load() >= retiredMark }

// reserve counts one value of n bytes against a's limits and reports
// whether a may seal it.
func (a *activeDEK) reserve(n int, c *config) bool {
	if a.records.Add(1) > c.maxRecords {
		return false
	}
	if a.bytes.Add(uint64(n)) > c.maxBytes {
		a.records.Store(retiredMark)
		return false
	}
	return true
}

// Seal seals plaintext for binding b under the active DEK of the named KEK,
// appending the sealed value to dst. It returns the encoded descriptor,
// which is shared between records and must not be modified, and the
// sealed value. Seal makes a KMS call only when it must create a DEK.
func (r *Ring) Seal(ctx context.Context, kekName string, p envelope.Payload, dst, plaintext []byte, b envelope.Binding) (desc, sealed []byte, err error) {
	if r.closed.Load() {
		return nil, nil, ErrClosed
	}
	s := r.slot(kekName)
	if s == nil {
		return nil, nil, &UnknownKEKError{Name: kekName}
	}
	if p < envelope.PayloadValue || p > envelope.PayloadHeader {
		return nil, nil, fmt.Errorf("keyring: unknown payload kind %d", p)
	}
	if uint64(len(plaintext)) > r.cfg.maxBytes {
		// No DEK could take it, so replacing DEKs would loop for ever.
		return nil, nil, &ValueTooLargeError{Size: len(plaintext), MaxBytes: r.cfg.maxBytes}
	}
	for {
		if r.closed.Load() {
			return nil, nil, ErrClosed
		}
		a := s.cur.Load()
		if a != nil && a.reserve(len(plaintext), &r.cfg) {
			return a.descs[p], a.dek.Seal(dst, plaintext, a.descs[p], b), nil
		}
		if _, err := r.replace(ctx, kekName, s, a); err != nil {
			return nil, nil, err
		}
	}
}

// replace installs a new active DEK in s unless another goroutine already
// replaced old. Only one wrap per slot is in flight; other callers wait for
// it or for their own ctx. It returns a nil DEK and a nil error when the
// caller should look at s again, such as after dropping a DEK whose wrap
// overlapped a Rotate.
func (r *Ring) replace(ctx context.Context, kekName string, s *slot, old *activeDEK) (*activeDEK, error) {
	s.mu.Lock()
	if cur := s.cur.Load(); cur != old {
		s.mu.Unlock()
		return cur, nil
	}
	if s.failedErr != nil && r.cfg.now().Sub(s.failedAt) < r.cfg.failureBackoff {
		err := s.failedErr
		s.mu.Unlock()
		return nil, fmt.Errorf("keyring: KEK %q failed %v ago, retrying after the back-off: %w",
			kekName, r.cfg.now().Sub(s.failedAt).Round(time.Millisecond), err)
	}
	c := s.pending
	leader := c == nil
	if leader {
		c = &call{done: make(chan struct{})}
		s.pending = c
	}
	s.mu.Unlock()

	if !leader {
		a, err := c.wait(ctx)
		if err != nil && ctx.Err() == nil && isContextErr(err) {
			return nil, nil // the leader's context ended, not ours: try again
		}
		return a, err
	}

	rotations := s.rotations.Load()
	a, err := r.newActive(ctx, kekName)
	s.mu.Lock()
	s.pending = nil
	switch {
	case err != nil && !isContextErr(err):
		s.failedAt, s.failedErr = r.cfg.now(), err
	case err == nil && s.rotations.Load() != rotations:
		// Rotate ran during the wrap, which may have used the old KEK
		// version. The DEK is dropped unused, and the caller's loop finds
		// no usable DEK in s and wraps another.
		a.retire()
		a = nil
		defer r.cfg.logger.Info("kenvelope: dropped a stream DEK whose wrap overlapped Ring.Rotate", "kek", kekName)
	default:
		s.failedErr = nil
		if prev := s.cur.Swap(a); prev != nil {
			prev.retire()
		}
	}
	s.mu.Unlock()
	c.finish(a, err)
	return a, err
}

// newActive creates a DEK, has the KEK wrap it and pre-encodes its
// descriptors.
func (r *Ring) newActive(ctx context.Context, kekName string) (*activeDEK, error) {
	kek := r.keks[kekName]
	dek := envelope.NewDEK()
	raw := dek.Bytes()
	defer clear(raw)
	w, err := kek.Wrap(ctx, raw, r.cfg.wrapContext)
	if err != nil {
		return nil, fmt.Errorf("keyring: wrap new DEK: %w", err)
	}
	if err := r.checkWrapped(ctx, kek, w, raw); err != nil {
		return nil, err
	}

	a := &activeDEK{dek: dek, kekVersion: w.Version, edek: w.Ciphertext}
	for p := envelope.PayloadValue; p <= envelope.PayloadHeader; p++ {
		d := envelope.Descriptor{Algorithm: envelope.AES256GCM, Scope: envelope.ScopeStream, Payload: p,
			KEKName: kekName, KEKVersion: w.Version, KeyRef: w.Ciphertext}
		if a.descs[p], err = d.Marshal(); err != nil {
			return nil, fmt.Errorf("keyring: encode descriptor: %w", err)
		}
	}
	a.timer = time.AfterFunc(r.cfg.maxAge, func() { a.records.Store(retiredMark) })
	// A process that reads its own records needs no unwrap.
	r.cache.add(kekName, w.Version, w.Ciphertext, dek)
	r.cfg.logger.Info("kenvelope: created stream DEK", "kek", kekName, "kek_version", w.Version)
	r.auditStreamCreated(kekName, w.Version, w.Ciphertext)
	return a, nil
}

// call is one KMS request that several goroutines wait for.
type call struct {
	done chan struct{}
	a    *activeDEK
	err  error
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (c *call) finish(a *activeDEK, err error) {
	c.a, c.err = a, err
	close(c.done)
}

func (c *call) wait(ctx context.Context) (*activeDEK, error) {
	select {
	case <-c.done:
		return c.a, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("keyring: waiting for a new DEK: %w", ctx.Err())
	}
}

// DescriptorLen returns the length of the descriptor that Seal would return
// for the named KEK now, or an upper bound when it has no active DEK. A
// producer uses it to reject an oversized record before sealing it.
func (r *Ring) DescriptorLen(kekName string) int {
	if s := r.slot(kekName); s != nil {
		if a := s.cur.Load(); a != nil {
			return len(a.descs[envelope.PayloadValue])
		}
	}
	return envelope.MaxDescriptorLen
}

// checkWrapped rejects a wrapped key that a KMS returned without an error
// but that no reader could use: empty, longer than a descriptor can carry
// or, unless VerifyWraps(false), one that does not unwrap to raw. Records
// sealed under such a key would be unreadable, so it must fail here, before
// any record is sent.
func (r *Ring) checkWrapped(ctx context.Context, kek kms.KEK, w kms.Wrapped, raw []byte) error {
	invalid := func(cause error) error {
		return &kms.Error{Op: kms.OpWrap, KEK: kek.Name(), Version: w.Version, Kind: kms.ErrInvalidResponse, Cause: cause}
	}
	if len(w.Ciphertext) == 0 || len(w.Ciphertext) > envelope.MaxEDEKLen {
		return invalid(fmt.Errorf("wrapped key is %d bytes, want 1 to %d", len(w.Ciphertext), envelope.MaxEDEKLen))
	}
	if !r.cfg.verifyWraps {
		return nil
	}
	back, err := kek.Unwrap(ctx, w, r.cfg.wrapContext)
	defer clear(back)
	if err != nil {
		return fmt.Errorf("keyring: verify new wrapped DEK: %w", err)
	}
	if subtle.ConstantTimeCompare(back, raw) != 1 {
		return invalid(errors.New("wrapped key does not unwrap to the key that was wrapped"))
	}
	return nil
}
