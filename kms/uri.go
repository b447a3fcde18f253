package kms

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/kenvelope/kenvelope/kms/internal/redact"
)

// Opener builds a KEK with logical name from a key URI of its scheme.
type Opener func(ctx context.Context, name, uri string) (KEK, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// Register makes a backend's key URIs openable by Open. Backends call it
// from init with their scheme, such as "aws-kms"; registering a scheme
// twice panics, because it is a programming error.
func Register(scheme string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, dup := openers[scheme]; dup {
		panic("kms: scheme registered twice: " + scheme)
	}
	openers[scheme] = open
}

// Open builds the KEK that uri names, with the logical name recorded in
// descriptors. The backend package of the URI's scheme must be imported,
// for example kms/awskms for "aws-kms://". Open reads no credentials from
// the URI; backends take them from their SDK's usual configuration.
//
// Open returns a nil KEK whenever the error is not nil. Its errors, and
// those of the backends, never quote the URI, because a rejected URI may
// carry a token or key: they name the scheme and the part that failed.
func Open(ctx context.Context, name, uri string) (KEK, error) {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("kms: key URI has no scheme, want a form such as aws-kms://KEY: %w", ErrInvalidConfig)
	}
	openersMu.RLock()
	open, ok := openers[scheme]
	openersMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("kms: no backend registered for scheme %s (import its kms/ package): %w", redact.Name(scheme), ErrInvalidConfig)
	}

	kek, err := open(ctx, name, uri)
	if err != nil {
		// An opener that returns a nil *T as a KEK would hand the caller
		// a non-nil interface, so the KEK is dropped here.
		return nil, err
	}
	if kek == nil {
		return nil, fmt.Errorf("kms: backend for scheme %s returned no KEK and no error: %w", redact.Name(scheme), ErrInvalidConfig)
	}
	return kek, nil
}
