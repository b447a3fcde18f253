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

// domain separates kenvelope's associated data from any other use of the
// same key.
const domain = "kenvelope/v1 record\x00"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// adPool recycles associated-data buffers, which are built for every record.
var adPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendAD appends the associated data for descriptor and b to dst and
// returns it with the binding check, a CRC-32C of the binding part.
func appendAD(dst, descriptor []byte, b Binding) ([]byte, uint32) {
	dst = append(dst, domain...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(descriptor)))
	dst = append(dst, descriptor...)

	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b.Topic)))
	dst = append(dst, b.Topic...)
	if b.Key == nil {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(b.Key)))
		dst = append(dst, b.Key...)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b.Path)))
	dst = append(dst, b.Path...)
	return dst, crc32.Checksum(dst[start:], castagnoli)
}
