package kmstest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/kenvelope/kenvelope/kms"
)

// ErrInjected is the Cause of every error that Faulty returns, so a test
// can tell an injected fault from a real one with errors.Is.
var ErrInjected = errors.New("kmstest: injected fault")

var errNotVersioned = errors.New("kmstest: the wrapped KEK does not implement kms.Versioned")

// Counting is a kms.KEK that forwards every call to another KEK and counts
// the calls, so a test can check how often the code under test reaches the
// KMS. It is safe for concurrent use.
type Counting struct {
	kek                      kms.KEK
	wraps, unwraps, versions atomic.Int64
}

// NewCounting returns a Counting that forwards to kek.
func NewCounting(kek kms.KEK) *Counting { return &Counting{kek: kek} }

// Name returns the name of the wrapped KEK.
func (c *Counting) Name() string { return c.kek.Name() }

// Wrap counts the call and forwards it.
func (c *Counting) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	c.wraps.Add(1)
	return c.kek.Wrap(ctx, dek, ec)
}

// Unwrap counts the call and forwards it.
func (c *Counting) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	c.unwraps.Add(1)
	return c.kek.Unwrap(ctx, w, ec)
}

// PrimaryVersion counts the call and forwards it. When the wrapped KEK does
// not implement kms.Versioned, it returns a *kms.Error of kind
// kms.ErrInvalidConfig.
func (c *Counting) PrimaryVersion(ctx context.Context) (uint32, error) {
	c.versions.Add(1)
	return primaryVersion(ctx, c.kek)
}

// Wraps returns the number of Wrap calls so far.
func (c *Counting) Wraps() int64 { return c.wraps.Load() }

// Unwraps returns the number of Unwrap calls so far.
func (c *Counting) Unwraps() int64 { return c.unwraps.Load() }

// PrimaryVersions returns the number of PrimaryVersion calls so far.
func (c *Counting) PrimaryVersions() int64 { return c.versions.Load() }

// Faulty is a kms.KEK that forwards calls to another KEK but fails them on
// demand. It is a test double for faults that a real KMS cannot be made to
// produce on demand, such as throttling, an outage or an invalid response.
// Tests use a real KEK for every other behaviour. It is safe for
// concurrent use.
type Faulty struct {
	kek kms.KEK

	mu        sync.Mutex
	kind      error
	remaining int // calls left to fail, negative to fail until Reset
}

// NewFaulty returns a Faulty that forwards to kek until Fail is called.
func NewFaulty(kek kms.KEK) *Faulty { return &Faulty{kek: kek} }

// Fail makes the next n calls of Wrap, Unwrap or PrimaryVersion return a
// *kms.Error of the given kind, such as kms.ErrUnavailable, with
// ErrInjected as its Cause, without reaching the wrapped KEK. A negative n
// fails every call until Reset. Fail replaces any fault set before, and
// panics when kind is nil and n is not zero.
func (f *Faulty) Fail(kind error, n int) {
	if kind == nil && n != 0 {
		panic("kmstest: Faulty.Fail needs a kind such as kms.ErrUnavailable")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kind, f.remaining = kind, n
}

// Reset lets every later call reach the wrapped KEK again.
func (f *Faulty) Reset() { f.Fail(nil, 0) }

// Name returns the name of the wrapped KEK.
func (f *Faulty) Name() string { return f.kek.Name() }

// Wrap returns the injected fault, if one is pending, or forwards the call.
func (f *Faulty) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if err := f.fault(kms.OpWrap); err != nil {
		return kms.Wrapped{}, err
	}
	return f.kek.Wrap(ctx, dek, ec)
}

// Unwrap returns the injected fault, if one is pending, or forwards the
// call.
func (f *Faulty) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	if err := f.fault(kms.OpUnwrap); err != nil {
		return nil, err
	}
	return f.kek.Unwrap(ctx, w, ec)
}

// PrimaryVersion returns the injected fault, if one is pending, or forwards
// the call. When the wrapped KEK does not implement kms.Versioned, it
// returns a *kms.Error of kind kms.ErrInvalidConfig.
func (f *Faulty) PrimaryVersion(ctx context.Context) (uint32, error) {
	if err := f.fault(kms.OpVersion); err != nil {
		return 0, err
	}
	return primaryVersion(ctx, f.kek)
}

// fault consumes one pending fault and returns it as the error for op, or
// returns nil when no fault is pending.
func (f *Faulty) fault(op kms.Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.remaining == 0 {
		return nil
	}
	if f.remaining > 0 {
		f.remaining--
	}
	return &kms.Error{Op: op, KEK: f.kek.Name(), Kind: f.kind, Cause: ErrInjected}
}

func primaryVersion(ctx context.Context, kek kms.KEK) (uint32, error) {
	v, ok := kek.(kms.Versioned)
	if !ok {
		return 0, &kms.Error{Op: kms.OpVersion, KEK: kek.Name(), Kind: kms.ErrInvalidConfig, Cause: errNotVersioned}
	}
	return v.PrimaryVersion(ctx)
}
