package kms

import (
	"context"
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
	err := r.do(ctx, func() (err error) {
		w, err = r.kek.Wrap(ctx, dek, ec)
		return err
	})
	return w, err
}

func (r *retryKEK) Unwrap(ctx context.Context, w Wrapped, ec EncryptionContext) ([]byte, error) {
	var dek []byte
	err := r.do(ctx, func() (err error) {
		dek, err = r.kek.Unwrap(ctx, w, ec)
		return err
	})
	return dek, err
}

// do calls f until it succeeds, fails permanently, runs out of attempts or
// ctx ends. It returns f's last error, never the sleep's.
func (r *retryKEK) do(ctx context.Context, f func() error) error {
	backoff := r.p.Initial
	for attempt := 1; ; attempt++ {
		err := f()
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

type retryVersioned struct {
	*retryKEK
	v Versioned
}

func (r *retryVersioned) PrimaryVersion(ctx context.Context) (uint32, error) {
	var v uint32
	err := r.do(ctx, func() (err error) {
		v, err = r.v.PrimaryVersion(ctx)
		return err
	})
	return v, err
}
