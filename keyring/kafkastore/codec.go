package kafkastore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
)

// Record keys. A key is one type byte followed by the id it names.
const (
	keyEntry      = 'd' // 'd' || 16-byte DEK id; value: an encoded entry, nil to delete
	keyQuarantine = 'q' // 'q' || 32-byte token; value: {1}, nil to release
)

// Entry value layout, version 1, all integers big-endian:
//
//	0   1   format version, 1
//	1   1   kind (1 subject DEK, 2 token key)
//	2   32  token (zero for the token key)
//	34  4   generation
//	38  4   KEK version
//	42  8   created, Unix milliseconds
//	50  8   wrapped, Unix milliseconds
//	58  8   origin offset: the offset of the entry's first record, or -1
//	        on that first record itself
//	66  1   KEK name length n, 1 to 255
//	67  n   KEK name
//	67+n 2  EDEK length m, 1 to envelope.MaxEDEKLen
//	69+n m  EDEK
const (
	valueVersion = 1
	fixedValue   = 69
)

var errMalformed = errors.New("kafkastore: malformed key-store record")

func entryKey(id keyring.DEKID) []byte { return append([]byte{keyEntry}, id[:]...) }

func quarantineKey(t keyring.Token) []byte { return append([]byte{keyQuarantine}, t[:]...) }

func encodeEntry(e keyring.Entry, origin int64) []byte {
	b := make([]byte, 0, fixedValue+len(e.KEKName)+len(e.EDEK))
	b = append(b, valueVersion, byte(e.Kind))
	b = append(b, e.Token[:]...)
	b = binary.BigEndian.AppendUint32(b, e.Generation)
	b = binary.BigEndian.AppendUint32(b, e.KEKVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Created.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Wrapped.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(origin))
	b = append(b, byte(len(e.KEKName)))
	b = append(b, e.KEKName...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.EDEK)))
	return append(b, e.EDEK...)
}

// decodeEntry decodes a value, checking every length before it slices.
// It returns the entry without ID and Seq, and the origin offset.
func decodeEntry(b []byte) (keyring.Entry, int64, error) {
	var e keyring.Entry
	if len(b) < fixedValue {
		return e, 0, fmt.Errorf("%w: value is %d bytes, shorter than %d", errMalformed, len(b), fixedValue)
	}
	if b[0] != valueVersion {
		return e, 0, fmt.Errorf("%w: format version %d, want %d", errMalformed, b[0], valueVersion)
	}
	e.Kind = keyring.EntryKind(b[1])
	if e.Kind != keyring.KindSubjectDEK && e.Kind != keyring.KindTokenKey {
		return e, 0, fmt.Errorf("%w: unknown kind %d", errMalformed, b[1])
	}

	copy(e.Token[:], b[2:34])
	e.Generation = binary.BigEndian.Uint32(b[34:])
	e.KEKVersion = binary.BigEndian.Uint32(b[38:])
	e.Created = time.UnixMilli(int64(binary.BigEndian.Uint64(b[42:])))
	e.Wrapped = time.UnixMilli(int64(binary.BigEndian.Uint64(b[50:])))
	origin := int64(binary.BigEndian.Uint64(b[58:]))

	n := int(b[66])
	rest := b[67:]
	if n == 0 || n+2 > len(rest) {
		return e, 0, fmt.Errorf("%w: KEK name length %d, %d bytes remain", errMalformed, n, len(rest))
	}
	e.KEKName = string(rest[:n])
	m := int(binary.BigEndian.Uint16(rest[n:]))
	rest = rest[n+2:]
	if m == 0 || m > envelope.MaxEDEKLen || m != len(rest) {
		return e, 0, fmt.Errorf("%w: EDEK length %d, %d bytes remain", errMalformed, m, len(rest))
	}
	e.EDEK = append([]byte(nil), rest...)
	return e, origin, nil
}
