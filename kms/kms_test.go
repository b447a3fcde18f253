package kms_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/kms"
)

// scriptedKEK fails its first calls with the given errors, then succeeds;
// hang makes a call wait for its context. A test double: the retry logic
// is what is under test, not a backend.
type scriptedKEK struct {
	errs  []error
	hang  bool
	calls atomic.Int32
}

func (s *scriptedKEK) Name() string { return "scripted" }

func (s *scriptedKEK) Wrap(ctx context.Context, dek []byte, _ kms.EncryptionContext) (kms.Wrapped, error) {
	n := int(s.calls.Add(1)) - 1
	if s.hang {
		<-ctx.Done()
		return kms.Wrapped{}, ctx.Err()
	}
	if n < len(s.errs) {
		return kms.Wrapped{}, s.errs[n]
	}
	return kms.Wrapped{Ciphertext: bytes.Clone(dek)}, nil
}

func (s *scriptedKEK) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	wr, err := s.Wrap(ctx, w.Ciphertext, ec)
	return wr.Ciphertext, err
}

func kmsErr(kind error) error { return &kms.Error{Op: kms.OpWrap, KEK: "scripted", Kind: kind} }

var fast = kms.RetryPolicy{Attempts: 4, Initial: time.Millisecond, Max: 2 * time.Millisecond}

func TestRetryRetryableUntilSuccess(t *testing.T) {
	k := &scriptedKEK{errs: []error{kmsErr(kms.ErrUnavailable), kmsErr(kms.ErrThrottled)}}
	if _, err := kms.Retry(k, fast).Wrap(context.Background(), []byte("k"), nil); err != nil {
		t.Fatalf("Wrap() err = %v, want nil after two retryable failures", err)
	}
	if n := k.calls.Load(); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
}

func TestRetryPermanentOnce(t *testing.T) {
	k := &scriptedKEK{errs: []error{kmsErr(kms.ErrKeyDestroyed)}}
	_, err := kms.Retry(k, fast).Wrap(context.Background(), []byte("k"), nil)
	if !errors.Is(err, kms.ErrKeyDestroyed) || k.calls.Load() != 1 {
		t.Fatalf("Wrap() = %v after %d calls, want ErrKeyDestroyed after 1", err, k.calls.Load())
	}
}

func TestRetryStopsAtAttempts(t *testing.T) {
	k := &scriptedKEK{errs: []error{kmsErr(kms.ErrUnavailable), kmsErr(kms.ErrUnavailable),
		kmsErr(kms.ErrUnavailable), kmsErr(kms.ErrUnavailable), kmsErr(kms.ErrUnavailable)}}
	_, err := kms.Retry(k, fast).Wrap(context.Background(), []byte("k"), nil)
	if !errors.Is(err, kms.ErrUnavailable) || k.calls.Load() != 4 {
		t.Fatalf("Wrap() = %v after %d calls, want ErrUnavailable after 4", err, k.calls.Load())
	}
}

func TestRetryAttemptTimeout(t *testing.T) {
	k := &scriptedKEK{hang: true}
	p := fast
	p.Attempts, p.AttemptTimeout = 2, 20*time.Millisecond
	_, err := kms.Retry(k, p).Wrap(context.Background(), []byte("k"), nil)
	if !kms.IsRetryable(err) || !errors.Is(err, kms.ErrUnavailable) {
		t.Fatalf("Wrap() on a hanging KMS err = %v, want retryable ErrUnavailable", err)
	}
	if n := k.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2 (each bounded by AttemptTimeout)", n)
	}
}

func TestRetryCallerDeadline(t *testing.T) {
	k := &scriptedKEK{hang: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := kms.Retry(k, kms.RetryPolicy{Attempts: 100}).Wrap(ctx, []byte("k"), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wrap() err = %v, want the caller's DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Wrap() returned after %v, want soon after the 30ms deadline", d)
	}
}

func TestEncryptionContextBytes(t *testing.T) {
	a := kms.EncryptionContext{"topic": "t", "a": "b"}.Bytes()
	b := kms.EncryptionContext{"a": "b", "topic": "t"}.Bytes()
	if !bytes.Equal(a, b) {
		t.Fatal("Bytes() depends on map order")
	}
	if bytes.Equal(kms.EncryptionContext{"ab": "c"}.Bytes(), kms.EncryptionContext{"a": "bc"}.Bytes()) {
		t.Fatal("Bytes() is ambiguous between {ab:c} and {a:bc}")
	}
	if kms.EncryptionContext(nil).Bytes() != nil || (kms.EncryptionContext{}).Bytes() != nil {
		t.Fatal("Bytes() of a nil or empty context is not nil")
	}
}

func TestOpenUnknownScheme(t *testing.T) {
	for _, uri := range []string{"nope://x", "no-scheme", "://x"} {
		if _, err := kms.Open(context.Background(), "k", uri); !errors.Is(err, kms.ErrInvalidConfig) {
			t.Errorf("Open(%q) err = %v, want ErrInvalidConfig", uri, err)
		}
	}
}
