package envelope

import (
	"encoding/binary"
	"fmt"
)

// HeaderName is the name of the record header that carries the descriptor.
const HeaderName = "kenvelope"

// Version is the descriptor format version that this package writes.
const Version = 1

// Limits that Parse enforces before it slices anything.
const (
	MaxKEKNameLen = 255
	MaxEDEKLen    = 2048
	DEKIDLen      = 16
	fixedLen      = 12
	// MaxDescriptorLen is the length of the largest valid descriptor.
	MaxDescriptorLen = fixedLen + MaxKEKNameLen + MaxEDEKLen
)

// Algorithm is the AEAD a descriptor names. Zero is invalid.
type Algorithm uint8

// AES256GCM is AES-256 in Galois/Counter Mode with 96-bit random nonces.
const AES256GCM Algorithm = 1

// Scope is the source of the DEK: the record itself or a key store. Zero
// is invalid.
type Scope uint8

const (
	// ScopeStream: the descriptor carries the EDEK itself.
	ScopeStream Scope = 1
	// ScopeSubject: the descriptor carries a DEK id to look up in a key store.
	ScopeSubject Scope = 2
)

// Payload is the kind of data that was sealed. Zero is invalid.
type Payload uint8

// Payload kinds.
const (
	PayloadValue    Payload = 1
	PayloadJSON     Payload = 2
	PayloadAvro     Payload = 3
	PayloadProtobuf Payload = 4
	PayloadHeader   Payload = 5
)

// Descriptor is the decoded record descriptor.
type Descriptor struct {
	Algorithm  Algorithm
	Scope      Scope
	Payload    Payload
	KEKName    string
	KEKVersion uint32
	// KeyRef is the EDEK (ScopeStream) or the DEK id (ScopeSubject). After
	// Parse it aliases the parsed bytes.
	KeyRef []byte
}

// Append validates d and appends its encoding to dst.
func (d *Descriptor) Append(dst []byte) ([]byte, error) {
	if err := d.validate(); err != nil {
		return dst, err
	}
	dst = append(dst, Version, byte(d.Algorithm), byte(d.Scope), byte(d.Payload), 0, byte(len(d.KEKName)))
	dst = append(dst, d.KEKName...)
	dst = binary.BigEndian.AppendUint32(dst, d.KEKVersion)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(d.KeyRef)))
	return append(dst, d.KeyRef...), nil
}

// Marshal returns the encoding of d.
func (d *Descriptor) Marshal() ([]byte, error) {
	return d.Append(make([]byte, 0, fixedLen+len(d.KEKName)+len(d.KeyRef)))
}

func (d *Descriptor) validate() error {
	if d.Algorithm != AES256GCM {
		return descError("algorithm", "unknown algorithm %d", d.Algorithm)
	}
	if d.Payload < PayloadValue || d.Payload > PayloadHeader {
		return descError("payload", "unknown payload kind %d", d.Payload)
	}
	if err := checkKEKName(d.KEKName); err != nil {
		return err
	}
	switch d.Scope {
	case ScopeStream:
		if len(d.KeyRef) == 0 || len(d.KeyRef) > MaxEDEKLen {
			return descError("edek length", "%d bytes, want 1 to %d", len(d.KeyRef), MaxEDEKLen)
		}
	case ScopeSubject:
		if len(d.KeyRef) != DEKIDLen {
			return descError("dek id length", "%d bytes, want %d", len(d.KeyRef), DEKIDLen)
		}
	default:
		return descError("scope", "unknown scope %d", d.Scope)
	}
	return nil
}

func checkKEKName(name string) error {
	if len(name) == 0 || len(name) > MaxKEKNameLen {
		return descError("kek name length", "%d bytes, want 1 to %d", len(name), MaxKEKNameLen)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x21 || name[i] > 0x7e {
			return descError("kek name", "byte %d is 0x%02x, want printable ASCII", i, name[i])
		}
	}
	return nil
}

// Parse decodes a descriptor. It rejects unknown versions, zero or unknown
// enumerations, lengths out of range or beyond the input, and trailing
// bytes. The returned KeyRef aliases b.
func Parse(b []byte) (Descriptor, error) {
	var d Descriptor
	if len(b) == 0 {
		return d, descError("version", "empty descriptor")
	}
	if b[0] != Version {
		return d, &DescriptorError{Field: "version", Reason: fmt.Sprintf("version %d, this library reads %d", b[0], Version), Err: ErrUnsupportedVersion}
	}
	if len(b) < fixedLen {
		return d, descError("length", "%d bytes, shorter than the fixed part (%d)", len(b), fixedLen)
	}
	if len(b) > MaxDescriptorLen {
		return d, descError("length", "%d bytes, longer than the maximum %d", len(b), MaxDescriptorLen)
	}
	if b[4] != 0 {
		return d, descError("flags", "0x%02x, want 0", b[4])
	}
	d.Algorithm, d.Scope, d.Payload = Algorithm(b[1]), Scope(b[2]), Payload(b[3])

	nameLen := int(b[5])
	rest := b[6:]
	if nameLen > len(rest)-6 {
		return Descriptor{}, descError("kek name length", "%d bytes, only %d remain", nameLen, len(rest)-6)
	}
	d.KEKName = string(rest[:nameLen])
	rest = rest[nameLen:]
	d.KEKVersion = binary.BigEndian.Uint32(rest)
	refLen := int(binary.BigEndian.Uint16(rest[4:]))
	rest = rest[6:]
	if refLen != len(rest) {
		return Descriptor{}, descError("key reference length", "%d bytes, but %d remain", refLen, len(rest))
	}
	d.KeyRef = rest
	if err := d.validate(); err != nil {
		return Descriptor{}, err
	}
	return d, nil
}
