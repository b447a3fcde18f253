package envelope

import (
	"crypto/subtle"
	"encoding/binary"
	"slices"
)

const (
	checkSize = 4
	nonceSize = 12
	tagSize   = 16

	// Overhead is the number of bytes sealing adds to a value.
	Overhead = checkSize + nonceSize + tagSize
)

// SealedLen returns the length of a sealed value of n plaintext bytes.
func SealedLen(n int) int { return n + Overhead }

// Seal appends the sealed form of plaintext to dst and returns the result.
// descriptor is the encoded descriptor that will travel with the value.
// Seal builds the associated data in dst's spare capacity, past the
// sealed value, so it needs no other buffer. Give dst a capacity of
// SealCap(len(plaintext), descriptor, b) beyond its length to avoid an
// allocation, or nil to have Seal allocate once. dst must not overlap
// plaintext.
func (k *DEK) Seal(dst, plaintext, descriptor []byte, b Binding) []byte {
	n := SealedLen(len(plaintext))
	bound := boundPart(descriptor)
	dst = slices.Grow(dst, n+adLenBound(len(bound), b))
	end := len(dst) + n
	ad, check := appendADBound(dst[end:end], bound, b)

	dst = binary.BigEndian.AppendUint32(dst, check)
	// The AEAD draws a random nonce and writes nonce || ciphertext || tag,
	// which ends where the associated data begins.
	return k.aead.Seal(dst, nil, plaintext, ad)
}

// SealCap returns the spare capacity Seal needs in dst to seal n bytes
// for descriptor and b without allocating.
func SealCap(n int, descriptor []byte, b Binding) int {
	return SealedLen(n) + adLen(descriptor, b)
}

// Open appends the plaintext of sealed to dst and returns the result. On
// failure the bytes appended to dst are cleared and Open returns
// ErrBindingMismatch when the value was sealed for another Binding, or
// ErrAuth when it, or its descriptor, was altered.
func (k *DEK) Open(dst, sealed, descriptor []byte, b Binding) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrShortValue
	}
	bufp := adPool.Get().(*[]byte)
	ad, check := appendAD((*bufp)[:0], descriptor, b)
	defer func() {
		*bufp = ad[:0]
		adPool.Put(bufp)
	}()

	stored := binary.BigEndian.Uint32(sealed)
	out, err := k.aead.Open(dst, nil, sealed[checkSize:], ad)
	if err != nil {
		// crypto/cipher already cleared what it appended.
		if stored != check {
			return nil, ErrBindingMismatch
		}
		return nil, ErrAuth
	}
	if subtle.ConstantTimeEq(int32(stored), int32(check)) != 1 {
		// The tag verified but the check was edited: still a tampered value.
		clear(out[len(dst):])
		return nil, ErrAuth
	}
	return out, nil
}
