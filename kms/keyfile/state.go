package keyfile

import (
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"slices"
)

// Version states, as written in the key file.
const (
	stateEnabled   = "enabled"
	stateDisabled  = "disabled"
	stateDestroyed = "destroyed"
)

// version is one KEK version. key is empty once the version is destroyed.
type version struct {
	state string
	key   keyBytes
}

// keyState is every version of a KEK. A KEK replaces its keyState as a
// whole under its lock and never changes one in place, so a clone may share
// keys with the original.
type keyState struct {
	primary  uint32
	min      uint32 // lowest version that Unwrap accepts
	versions map[uint32]version
}

// newKeyState returns a keyState with key as its only version, 1.
func newKeyState(key keyBytes) keyState {
	return keyState{
		primary:  1,
		min:      1,
		versions: map[uint32]version{1: {state: stateEnabled, key: key}},
	}
}

// keyBytes is one AES-256 key, or no key once its version is destroyed.
// Its String, GoString and Format print a placeholder. fmt cannot call them
// on an unexported field, so code never prints a version or a keyState.
type keyBytes struct{ p *[keySize]byte }

// copyKey returns a copy of b, which must be keySize bytes long.
func copyKey(b []byte) keyBytes {
	k := new([keySize]byte)
	copy(k[:], b)
	return keyBytes{k}
}

// bytes returns the key, or nil for no key. The slice aliases the key.
func (k keyBytes) bytes() []byte {
	if k.p == nil {
		return nil
	}
	return k.p[:]
}

// wipe overwrites the key with zeros.
func (k keyBytes) wipe() { clear(k.bytes()) }

func (keyBytes) String() string               { return "[key redacted]" }
func (k keyBytes) GoString() string           { return k.String() }
func (k keyBytes) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// randomKey returns a new key from crypto/rand. As documented in Go 1.26,
// rand.Read never returns an error, because it crashes the program when the
// system cannot supply randomness.
func randomKey() keyBytes {
	k := new([keySize]byte)
	_, _ = rand.Read(k[:])
	return keyBytes{k}
}

func (s keyState) clone() keyState {
	s.versions = maps.Clone(s.versions)
	return s
}

// highest returns the highest version number, destroyed versions included.
func (s keyState) highest() uint32 {
	return slices.Max(slices.Collect(maps.Keys(s.versions)))
}

// wipe clears every key in s. Only keys that no live keyState shares may
// be wiped.
func (s keyState) wipe() {
	for _, v := range s.versions {
		v.key.wipe()
	}
}
