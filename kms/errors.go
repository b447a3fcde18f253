package kms

import (
	"errors"
	"fmt"
)

// Sentinel errors that backends report, always wrapped in an *Error. Test
// for them with errors.Is.
var (
	// ErrKeyNotFound means the KMS has no key with the configured id, or
	// no such version of it.
	ErrKeyNotFound = errors.New("key not found")

	// ErrKeyDisabled means the key or version exists but is disabled.
	// Enabling it again makes the same call succeed.
	ErrKeyDisabled = errors.New("key disabled")

	// ErrKeyDestroyed means the key or version was destroyed or is
	// pending deletion. Data keys wrapped under it cannot be recovered:
	// this is crypto-shredding working as intended.
	ErrKeyDestroyed = errors.New("key destroyed")

	// ErrVersionTooOld means the record needs a KEK version below the
	// minimum the KMS still allows for decryption. Error.Version names the
	// version the record needs and Error.MinVersion the minimum.
	ErrVersionTooOld = errors.New("key version below the minimum allowed")

	// ErrContextMismatch means the encryption context given to Unwrap is
	// not the one the key was wrapped with: the record was moved or its
	// metadata altered.
	ErrContextMismatch = errors.New("encryption context does not match")

	// ErrThrottled means the KMS rejected the request for rate. Retryable.
	ErrThrottled = errors.New("kms throttled the request")

	// ErrUnavailable means the KMS could not be reached, timed out or
	// failed internally. Retryable.
	ErrUnavailable = errors.New("kms unavailable")

	// ErrInvalidResponse means the KMS returned no error but a wrapped
	// key or plaintext that fails validation (empty, wrong
	// length, bad checksum). Retryable, because the cause is usually in
	// transit.
	ErrInvalidResponse = errors.New("invalid response from kms")

	// ErrPermission means the caller's identity may not use the key.
	ErrPermission = errors.New("permission denied by kms")

	// ErrInvalidConfig means a KEK was configured with a malformed key id,
	// URI or option. It is returned by constructors.
	ErrInvalidConfig = errors.New("invalid kms configuration")
)

// Op names the KMS operation that failed.
type Op string

// Operations recorded in Error.Op.
const (
	OpWrap    Op = "wrap"
	OpUnwrap  Op = "unwrap"
	OpVersion Op = "read primary version"
)

// Error is the error every backend returns. It wraps one of the sentinel
// errors (Kind) and the backend's own error (Cause), and never contains key
// bytes or plaintext.
type Error struct {
	Op         Op
	KEK        string // logical KEK name
	Version    uint32 // KEK version involved, zero when unknown
	MinVersion uint32 // set with ErrVersionTooOld
	Kind       error  // one of the sentinel errors above
	Cause      error  // the backend's error, may be nil
}

// Error returns a one-line message naming the operation, KEK, version and
// kind, and whether a retry can help.
func (e *Error) Error() string {
	msg := fmt.Sprintf("kms: %s with KEK %q", e.Op, e.KEK)
	if e.Version != 0 {
		msg += fmt.Sprintf(" version %d", e.Version)
	}
	msg += ": " + e.Kind.Error()
	if e.MinVersion != 0 {
		msg += fmt.Sprintf(" (record needs version %d, minimum is %d)", e.Version, e.MinVersion)
	}
	if e.Retryable() {
		msg += " (retryable)"
	} else {
		msg += " (permanent)"
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns Kind and Cause so that errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// Retryable reports whether the same call may succeed later without any
// change to keys or configuration.
func (e *Error) Retryable() bool {
	return e.Kind == ErrThrottled || e.Kind == ErrUnavailable || e.Kind == ErrInvalidResponse
}

// IsRetryable reports whether err, or an error it wraps, is an *Error that
// a retry can fix.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}
