package kms

import (
	"context"
	"encoding/binary"
	"sort"
)

// KEK is a key-encryption key held by a KMS. Implementations are safe for
// concurrent use.
type KEK interface {
	// Name returns the logical KEK name that descriptors record. It is
	// stable across versions and does not name the backend's key id.
	Name() string

	// Wrap encrypts a data key under the primary version of the KEK,
	// binding it to ec. The returned Wrapped names the version used.
	Wrap(ctx context.Context, dek []byte, ec EncryptionContext) (Wrapped, error)

	// Unwrap decrypts w, which must have been wrapped with an equal ec.
	// The caller owns the returned key bytes and clears them after use.
	Unwrap(ctx context.Context, w Wrapped, ec EncryptionContext) ([]byte, error)
}

// Versioned is implemented by a KEK whose primary version can be read
// without wrapping, so that a keyring notices a rotation made outside the
// process and replaces data keys wrapped under the old version.
type Versioned interface {
	KEK

	// PrimaryVersion returns the version that Wrap uses now.
	PrimaryVersion(ctx context.Context) (uint32, error)
}

// Wrapped is a data key encrypted by a KEK (an EDEK).
type Wrapped struct {
	// Version is the KEK version that wrapped the key. Zero means the
	// backend does not expose versions (AWS KMS rotates behind one key id).
	Version uint32

	// Ciphertext is the backend's wrapped key, opaque to kenvelope.
	Ciphertext []byte
}

// EncryptionContext is non-secret data bound to a wrapped key, such as
// {"topic": "lab-results"}. Unwrap fails with ErrContextMismatch unless it
// gets an equal context. Values are visible to the KMS and its audit logs,
// so they never contain PHI.
type EncryptionContext map[string]string

// Bytes returns a canonical encoding of ec for backends that take
// associated data as bytes: the pairs sorted by key, each string prefixed
// by its length as a 32-bit big-endian integer. A nil and an empty context
// both encode to nil.
func (ec EncryptionContext) Bytes() []byte {
	if len(ec) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var out []byte
	for _, k := range keys {
		out = binary.BigEndian.AppendUint32(out, uint32(len(k)))
		out = append(out, k...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(ec[k])))
		out = append(out, ec[k]...)
	}
	return out
}
