package keyring

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownKEK is wrapped by *UnknownKEKError.
	ErrUnknownKEK = errors.New("keyring: unknown KEK")

	// ErrClosed is returned by Seal and Open after Close.
	ErrClosed = errors.New("keyring: closed")

	// ErrUnsupportedScope is returned by Open for a descriptor whose
	// scope this Ring cannot serve.
	ErrUnsupportedScope = errors.New("keyring: unsupported key scope")
)

// ValueTooLargeError reports a value larger than the MaxBytes limit of one
// DEK, which no DEK can seal.
type ValueTooLargeError struct {
	Size     int
	MaxBytes uint64
}

func (e *ValueTooLargeError) Error() string {
	return fmt.Sprintf("keyring: value of %d bytes exceeds MaxBytes %d of one DEK; raise MaxBytes", e.Size, e.MaxBytes)
}

// UnknownKEKError reports a KEK name that the Ring was not configured with:
// a producer asked for it, or a record's descriptor names it.
type UnknownKEKError struct{ Name string }

func (e *UnknownKEKError) Error() string {
	return fmt.Sprintf("keyring: unknown KEK %q: configure a KEK with this name", e.Name)
}

// Unwrap returns ErrUnknownKEK.
func (e *UnknownKEKError) Unwrap() error { return ErrUnknownKEK }
