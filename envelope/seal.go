package envelope

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
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
// To avoid an allocation, give dst a capacity of SealedLen(len(plaintext)).
func (k *DEK) Seal(dst, plaintext, descriptor []byte, b Binding) []byte {
	bufp := adPool.Get().(*[]byte)
	ad, check := appendAD((*bufp)[:0], descriptor, b)

	dst = binary.BigEndian.AppendUint32(dst, check)
	nonceAt := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	nonce := dst[nonceAt:]
	rand.Read(nonce)
	dst = k.aead.Seal(dst, nonce, plaintext, ad)

	*bufp = ad[:0]
	adPool.Put(bufp)
	return dst
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
	nonce := sealed[checkSize : checkSize+nonceSize]
	out, err := k.aead.Open(dst, nonce, sealed[checkSize+nonceSize:], ad)
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
