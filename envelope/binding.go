package envelope

import (
	"encoding/binary"
	"hash/crc32"
	"sync"
)

// Binding is the context a sealed value is bound to. Open must receive an
// equal Binding.
type Binding struct {
	Topic string
	// Key is the record key. A nil key and an empty key are different
	// keys, as Kafka treats them.
	Key []byte
	// Path is the field path for field encryption, or empty for a whole
	// record value.
	Path string
}

// domain starts the associated data of a sealed value: the format version
// of the associated data, 1. It is one byte because AES-GCM hashes
// associated data one block at a time, more slowly than it encrypts, and
// every record pays for it. A tag's associated data starts with tagDomain
// instead, whose first byte differs.
const domain = "\x01"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// adPool recycles associated-data buffers, which are built for every record.
var adPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// boundPart returns the part of an encoded descriptor that the associated
// data covers: everything but the key reference bytes. The key reference
// selects the DEK, so altering it yields no DEK or a different one, which
// fails authentication anyway. Leaving it out keeps the associated data
// short whatever the size of a KMS's wrapped keys, and lets a rewrapped
// EDEK name the same DEK. A descriptor too short to hold the fields is
// bound whole.
func boundPart(descriptor []byte) []byte {
	if len(descriptor) < fixedLen {
		return descriptor
	}
	end := fixedLen + int(descriptor[5])
	if end > len(descriptor) {
		return descriptor
	}
	return descriptor[:end]
}

// adLen returns an upper bound of the length of the associated data that
// appendAD builds.
func adLen(descriptor []byte, b Binding) int {
	return adLenBound(len(boundPart(descriptor)), b)
}

func adLenBound(bound int, b Binding) int {
	const lenMax = binary.MaxVarintLen64
	return len(domain) + lenMax + bound + lenMax + len(b.Topic) + 1 + lenMax + len(b.Key) + lenMax + len(b.Path)
}

// appendAD appends the associated data for descriptor and b to dst and
// returns it with the binding check, a CRC-32C of the binding part. Each
// variable part is prefixed by its length as an unsigned varint, which
// keeps the encoding unambiguous and, for the short parts of a record,
// one byte long.
func appendAD(dst, descriptor []byte, b Binding) ([]byte, uint32) {
	return appendADBound(dst, boundPart(descriptor), b)
}

// appendADBound is appendAD for the bound part of a descriptor.
func appendADBound(dst, bound []byte, b Binding) ([]byte, uint32) {
	dst = append(dst, domain...)
	dst = binary.AppendUvarint(dst, uint64(len(bound)))
	dst = append(dst, bound...)

	start := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(b.Topic)))
	dst = append(dst, b.Topic...)
	if b.Key == nil {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = binary.AppendUvarint(dst, uint64(len(b.Key)))
		dst = append(dst, b.Key...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Path)))
	dst = append(dst, b.Path...)
	return dst, crc32.Checksum(dst[start:], castagnoli)
}
