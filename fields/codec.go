package fields

import (
	"encoding/base64"
	"fmt"

	"github.com/kenvelope/kenvelope/envelope"
)

// Marker starts every text form of a sealed value: a JSON string that
// replaces a field, an Avro string field, or an encrypted header value.
// What follows is the standard base64 encoding, with padding, of the
// sealed value (envelope.Seal's output). The "1" is the marker format
// version.
const Marker = "kenv1:"

// Sealer seals the selected values of one record under one DEK, binding
// each to its concrete path.
type Sealer interface {
	Seal(dst, plaintext []byte, path string) []byte
}

// Opener opens what a Sealer sealed, given the same path.
type Opener interface {
	Open(dst, sealed []byte, path string) ([]byte, error)
}

// ReserveFunc returns a Sealer for exactly count values of size plaintext
// bytes in all. A codec calls it once per record, after it has found the
// values to seal and before it seals any, so that all of them share one
// DEK and one descriptor and are counted against the DEK's limits
// together.
type ReserveFunc func(count, size int) (Sealer, error)

// Codec encrypts and decrypts the selected fields of one record format.
type Codec interface {
	// Payload names the format in the record descriptor.
	Payload() envelope.Payload
	// Encrypt returns src with the selected fields sealed.
	Encrypt(src []byte, reserve ReserveFunc) ([]byte, error)
	// Decrypt returns src with every sealed field opened, or an error; it
	// never returns a partly decrypted value.
	Decrypt(src []byte, open Opener) ([]byte, error)
	// ContainsSealed reports whether src carries what Decrypt would take
	// for a sealed field. A consumer calls it on a record without a
	// descriptor header, so that a record whose header was stripped is
	// not handed on as an unencrypted one with its fields still sealed.
	ContainsSealed(src []byte) bool
}

// RecordCipher seals and opens the fields of one record with a DEK, the
// record's encoded descriptor and the record's topic and key. It
// implements Sealer and Opener.
type RecordCipher struct {
	DEK        *envelope.DEK
	Descriptor []byte
	Topic      string
	Key        []byte
}

// Seal seals plaintext bound to path.
func (c *RecordCipher) Seal(dst, plaintext []byte, path string) []byte {
	return c.DEK.Seal(dst, plaintext, c.Descriptor, c.binding(path))
}

// Open opens sealed bound to path.
func (c *RecordCipher) Open(dst, sealed []byte, path string) ([]byte, error) {
	return c.DEK.Open(dst, sealed, c.Descriptor, c.binding(path))
}

func (c *RecordCipher) binding(path string) envelope.Binding {
	return envelope.Binding{Topic: c.Topic, Key: c.Key, Path: path}
}

// AppendMarked appends Marker and the base64 text of sealed to dst.
func AppendMarked(dst, sealed []byte) []byte {
	dst = append(dst, Marker...)
	return base64.StdEncoding.AppendEncode(dst, sealed)
}

// MarkedLen returns the length of the marked text of a value of n
// plaintext bytes.
func MarkedLen(n int) int {
	return len(Marker) + base64.StdEncoding.EncodedLen(envelope.SealedLen(n))
}

// DecodeMarked appends to dst the sealed value in text, which must start
// with Marker and continue with strict, padded standard base64.
func DecodeMarked(dst, text []byte) ([]byte, error) {
	if len(text) < len(Marker) || string(text[:len(Marker)]) != Marker {
		return nil, fmt.Errorf("%w: marker missing", ErrBadMarker)
	}
	// The standard decoder skips CR and LF even in strict mode, so two
	// different texts would decode to one sealed value.
	if at := nonBase64At(text[len(Marker):]); at >= 0 {
		return nil, fmt.Errorf("%w: byte %d after the marker is not in the base64 alphabet", ErrBadMarker, at)
	}
	out, err := base64.StdEncoding.Strict().AppendDecode(dst, text[len(Marker):])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMarker, err)
	}
	if len(out)-len(dst) < envelope.Overhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a sealed value", ErrBadMarker, len(out)-len(dst))
	}
	return out, nil
}

// nonBase64At returns the offset of the first byte of b that is neither
// in the standard base64 alphabet nor '=', or -1.
func nonBase64At(b []byte) int {
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
		default:
			return i
		}
	}
	return -1
}

// HasMarker reports whether b starts with Marker.
func HasMarker(b []byte) bool {
	return len(b) >= len(Marker) && string(b[:len(Marker)]) == Marker
}
