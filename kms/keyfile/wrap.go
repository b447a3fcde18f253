package keyfile

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/kenvelope/kenvelope/kms"
)

// Wrapped key format, as the package doc describes it.
const (
	wrapFormat     byte = 1
	domain              = "kenvelope/keyfile/wrap"
	nonceSize           = 12
	tagSize             = 16
	maxDEKSize          = 4096
	minWrappedSize      = 1 + nonceSize + 1 + tagSize
	maxWrappedSize      = 1 + nonceSize + maxDEKSize + tagSize
)

// Wrap encrypts dek, which must be 1 to 4096 bytes, under the primary
// version with AES-256-GCM and binds it to ec. It fails with
// kms.ErrKeyDisabled or kms.ErrKeyDestroyed when the primary version is
// disabled or destroyed. Wrap does no I/O and ignores ctx.
func (k *KEK) Wrap(_ context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if len(dek) == 0 || len(dek) > maxDEKSize {
		// NOTE: kms has no kind for an invalid argument, and
		// ErrInvalidConfig is the closest permanent one.
		cause := fmt.Errorf("keyfile: data key is %d bytes, want 1 to %d", len(dek), maxDEKSize)
		return kms.Wrapped{}, k.fail(kms.OpWrap, 0, kms.ErrInvalidConfig, cause)
	}

	k.mu.RLock()
	v := k.keys.primary
	aead, err := k.aeadLocked(kms.OpWrap, v)
	k.mu.RUnlock()
	if err != nil {
		return kms.Wrapped{}, err
	}

	out := make([]byte, 1+nonceSize, 1+nonceSize+len(dek)+tagSize)
	out[0] = wrapFormat
	_, _ = rand.Read(out[1:]) // never returns an error, see randomKey
	out = aead.Seal(out, out[1:], dek, additionalData(v, ec))
	return kms.Wrapped{Version: v, Ciphertext: out}, nil
}

// Unwrap decrypts w with the version it names, checking that ec equals the
// context it was wrapped with. It fails with kms.ErrKeyNotFound,
// kms.ErrKeyDestroyed, kms.ErrVersionTooOld or kms.ErrKeyDisabled when that
// version is unknown, destroyed, below the minimum version or disabled, and
// with kms.ErrContextMismatch when the context differs or w was altered.
// Unwrap does no I/O and ignores ctx.
func (k *KEK) Unwrap(_ context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	k.mu.RLock()
	aead, err := k.aeadLocked(kms.OpUnwrap, w.Version)
	k.mu.RUnlock()
	if err != nil {
		return nil, err
	}

	nonce, sealed, err := parseWrapped(w.Ciphertext)
	if err != nil {
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrContextMismatch, err)
	}
	dek, err := aead.Open(nil, nonce, sealed, additionalData(w.Version, ec))
	if err != nil {
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrContextMismatch, ErrAuthFailed)
	}
	return dek, nil
}

// aeadLocked returns the AES-GCM cipher of version v, or the *kms.Error
// that op must return when v is unusable. The caller holds k.mu.
func (k *KEK) aeadLocked(op kms.Op, v uint32) (cipher.AEAD, error) {
	ver, ok := k.keys.versions[v]
	switch {
	case !ok:
		return nil, k.fail(op, v, kms.ErrKeyNotFound, nil)
	case ver.state == stateDestroyed:
		return nil, k.fail(op, v, kms.ErrKeyDestroyed, nil)
	case op == kms.OpUnwrap && v < k.keys.min:
		err := k.fail(op, v, kms.ErrVersionTooOld, nil)
		err.MinVersion = k.keys.min
		return nil, err
	case ver.state == stateDisabled:
		return nil, k.fail(op, v, kms.ErrKeyDisabled, nil)
	}
	return newGCM(ver.key), nil
}

// newGCM returns AES-256-GCM under key. It panics if key is empty, which
// aeadLocked rules out by rejecting destroyed versions. The cipher keeps
// its own copy of the key schedule, so the caller may release its lock.
func newGCM(key keyBytes) cipher.AEAD {
	block, err := aes.NewCipher(key.bytes())
	if err != nil {
		panic("keyfile: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("keyfile: " + err.Error())
	}
	return aead
}

// parseWrapped splits a wrapped key into nonce and ciphertext-with-tag,
// checking its length and format byte first.
func parseWrapped(ct []byte) (nonce, sealed []byte, err error) {
	if len(ct) < minWrappedSize || len(ct) > maxWrappedSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrMalformedWrappedKey, len(ct), minWrappedSize, maxWrappedSize)
	}
	if ct[0] != wrapFormat {
		return nil, nil, fmt.Errorf("%w: format byte is %d, want %d", ErrMalformedWrappedKey, ct[0], wrapFormat)
	}
	return ct[1 : 1+nonceSize], ct[1+nonceSize:], nil
}

// additionalData returns the GCM associated data for version v and ec:
// domain || format byte || v as 32-bit big-endian || ec.Bytes(). domain
// has a fixed length, so the encoding is unambiguous.
func additionalData(v uint32, ec kms.EncryptionContext) []byte {
	ecBytes := ec.Bytes()
	ad := make([]byte, 0, len(domain)+1+4+len(ecBytes))
	ad = append(ad, domain...)
	ad = append(ad, wrapFormat)
	ad = binary.BigEndian.AppendUint32(ad, v)
	return append(ad, ecBytes...)
}
