package envelope

import (
	"errors"
	"fmt"
)

var (
	// ErrAuth is returned by Open when the value, the descriptor or the
	// associated data was altered, or the DEK is wrong. It is deliberately
	// opaque: the output buffer is cleared and nothing else is reported.
	ErrAuth = errors.New("envelope: message authentication failed")

	// ErrBindingMismatch is returned by Open when the value was sealed for
	// another topic, record key or field path: the record was copied or
	// moved. It wraps ErrAuth.
	ErrBindingMismatch = fmt.Errorf("envelope: record binding does not match: the value was sealed for another topic, key or field: %w", ErrAuth)

	// ErrInvalidDescriptor is wrapped by every *DescriptorError.
	ErrInvalidDescriptor = errors.New("envelope: invalid descriptor")

	// ErrUnsupportedVersion is returned by Parse for a descriptor format
	// version this library does not read. It wraps ErrInvalidDescriptor.
	ErrUnsupportedVersion = fmt.Errorf("unsupported descriptor version: %w", ErrInvalidDescriptor)

	// ErrShortValue is returned by Open for a value shorter than Overhead.
	ErrShortValue = errors.New("envelope: sealed value too short")
)

// DescriptorError reports why a descriptor was rejected. It never contains
// key material: only the field name, offsets and lengths.
type DescriptorError struct {
	Field  string // descriptor field, such as "kek name length"
	Reason string // what is wrong with it
	Err    error  // ErrInvalidDescriptor or ErrUnsupportedVersion
}

func (e *DescriptorError) Error() string {
	return fmt.Sprintf("envelope: invalid descriptor: %s: %s", e.Field, e.Reason)
}

// Unwrap returns the sentinel error that errors.Is matches.
func (e *DescriptorError) Unwrap() error { return e.Err }

func descError(field, format string, args ...any) error {
	return &DescriptorError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalidDescriptor}
}

// KeySizeError is returned for a DEK of the wrong length.
type KeySizeError int

func (k KeySizeError) Error() string {
	return fmt.Sprintf("envelope: invalid DEK length %d bytes, want %d", int(k), KeySize)
}
