package kms

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy bounds the retries of a KEK wrapped by Retry. The caller's
// context bounds them too: Retry never sleeps past its deadline.
type RetryPolicy struct {
	// Attempts is the maximum number of calls, the first included.
	// Zero means 5.
	Attempts int
	// Initial is the back-off before the second call. Zero means 50ms.
	Initial time.Duration
	// Max caps each back-off. Zero means 2s.
	Max time.Duration
	// AttemptTimeout bounds each call, so that one hanging request does
	// not use up the caller's whole deadline. An attempt that times out
	// fails with ErrUnavailable and is retried. Zero means 10s.
	AttemptTimeout time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.Initial <= 0 {
		p.Initial = 50 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 2 * time.Second
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = 10 * time.Second
	}
	return p
}

// Retry returns a KEK that retries calls to kek which fail with a
// retryable error (see IsRetryable), with exponential back-off and full
// jitter. Permanent errors and the caller's context errors return at once.
// If kek implements Versioned, so does the result.
func Retry(kek KEK, p RetryPolicy) KEK {
	r := &retryKEK{kek: kek, p: p.withDefaults()}
	if v, ok := kek.(Versioned); ok {
		return &retryVersioned{retryKEK: r, v: v}
	}
	return r
}

type retryKEK struct {
	kek KEK
	p   RetryPolicy
}

func (r *retryKEK) Name() string { return r.kek.Name() }

func (r *retryKEK) Wrap(ctx context.Context, dek []byte, ec EncryptionContext) (Wrapped, error) {
	var w Wrapped
	err := r.do(ctx, OpWrap, func(ctx context.Context) (err error) {
		w, err = r.kek.Wrap(ctx, dek, ec)
		return err
	})
	return w, err
}

func (r *retryKEK) Unwrap(ctx context.Context, w Wrapped, ec EncryptionContext) ([]byte, error) {
	var dek []byte
	err := r.do(ctx, OpUnwrap, func(ctx context.Context) (err error) {
		dek, err = r.kek.Unwrap(ctx, w, ec)
		return err
	})
	return dek, err
}

// do calls f until it succeeds, fails permanently, runs out of attempts or
// ctx ends. It returns f's last error, never the sleep's.
func (r *retryKEK) do(ctx context.Context, op Op, f func(context.Context) error) error {
	backoff := r.p.Initial
	for attempt := 1; ; attempt++ {
		err := r.attempt(ctx, op, f)
		if err == nil || !IsRetryable(err) || attempt >= r.p.Attempts {
			return err
		}
		sleep := rand.N(backoff) + 1 // full jitter
		timer := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
		backoff = min(2*backoff, r.p.Max)
	}
}

// attempt calls f with a context bounded by AttemptTimeout. When that
// bound, not the caller's context, ended the call, the error becomes a
// retryable ErrUnavailable.
func (r *retryKEK) attempt(ctx context.Context, op Op, f func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, r.p.AttemptTimeout)
	defer cancel()
	err := f(actx)
	if err != nil && ctx.Err() == nil && actx.Err() != nil && !IsRetryable(err) {
		return &Error{Op: op, KEK: r.kek.Name(), Kind: ErrUnavailable,
			Cause: fmt.Errorf("kms call timed out after %v: %w", r.p.AttemptTimeout, err)}
	}
	return err
}

type retryVersioned struct {
	*retryKEK
	v Versioned
}

func (r *retryVersioned) PrimaryVersion(ctx context.Context) (uint32, error) {
	var v uint32
	err := r.do(ctx, OpVersion, func(ctx context.Context) (err error) {
		v, err = r.v.PrimaryVersion(ctx)
		return err
	})
	return v, err
}
