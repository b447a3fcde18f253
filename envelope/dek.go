package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// KeySize is the length of a DEK in bytes (AES-256).
const KeySize = 32

// DEK is a data-encryption key with its AES-256-GCM instance. It is safe
// for concurrent use. Its String, GoString and Format methods print no key
// bytes, so a DEK that reaches a log or an error message leaks nothing.
type DEK struct {
	key   [KeySize]byte
	block cipher.Block
	aead  cipher.AEAD
}

// NewDEK returns a DEK read from crypto/rand.
func NewDEK() *DEK {
	var key [KeySize]byte
	rand.Read(key[:]) // never returns an error since Go 1.24; it crashes instead
	k, _ := newDEK(key[:])
	clear(key[:])
	return k
}

// NewDEKFromBytes returns a DEK holding a copy of key, which must be
// KeySize bytes. The caller may clear key afterwards.
func NewDEKFromBytes(key []byte) (*DEK, error) {
	if len(key) != KeySize {
		return nil, KeySizeError(len(key))
	}
	return newDEK(key)
}

func newDEK(key []byte) (*DEK, error) {
	k := &DEK{}
	copy(k.key[:], key)
	block, err := aes.NewCipher(k.key[:])
	if err != nil {
		return nil, fmt.Errorf("envelope: create AES cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("envelope: create GCM: %w", err)
	}
	k.block, k.aead = block, aead
	return k, nil
}

// Bytes returns a copy of the key bytes, for wrapping by a KEK. The caller
// clears the copy when done.
func (k *DEK) Bytes() []byte {
	out := make([]byte, KeySize)
	copy(out, k.key[:])
	return out
}

// Destroy clears the key bytes held by k. The AES key schedule inside the
// standard library cannot be cleared, so k must not be used afterwards.
//
// NOTE: Go offers no way to wipe crypto/aes's expanded key; it lives until
// the garbage collector reclaims it.
func (k *DEK) Destroy() {
	clear(k.key[:])
	k.block, k.aead = nil, nil
}

// Destroyed reports whether Destroy was called on k.
func (k *DEK) Destroyed() bool { return k.aead == nil }

// String returns a fixed placeholder, never key bytes.
func (DEK) String() string { return "envelope.DEK(redacted)" }

// GoString returns a fixed placeholder, never key bytes.
func (DEK) GoString() string { return "envelope.DEK(redacted)" }

// Format prints a fixed placeholder for every verb, including %x and %#v.
// The three methods have value receivers so that a dereferenced DEK is
// redacted too.
func (DEK) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte("envelope.DEK(redacted)"))
}
