package kms

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
func Open(ctx context.Context, name, uri string) (KEK, error) {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("kms: key URI %q has no scheme, want a form such as aws-kms://KEY: %w", uri, ErrInvalidConfig)
	}
	openersMu.RLock()
	open, ok := openers[scheme]
	openersMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("kms: no backend registered for scheme %q (import its kms/ package): %w", scheme, ErrInvalidConfig)
	}
	return open(ctx, name, uri)
}
