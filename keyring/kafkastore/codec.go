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
	keyRewrap     = 'w' // 'w' || 16-byte DEK id; value: an encoded rewrap, nil to delete
	keyQuarantine = 'q' // 'q' || 32-byte token; value: {1}, nil to release
	keyMeta       = 'm' // 'm' alone, on partition 0; value: encoded metadata
)

// Entry value layout ('d' records), version 2, integers big-endian:
//
//	0    1   format version, 2
//	1    1   kind (1 subject DEK, 2 token key)
//	2    32  token (zero for the token key)
//	34   4   generation
//	38   4   KEK version
//	42   8   created, Unix nanoseconds
//	50   8   wrapped, Unix nanoseconds
//	58   1   KEK name length n, 1 to 255
//	59   n   KEK name
//	59+n 2   EDEK length m, 1 to envelope.MaxEDEKLen
//	61+n m   EDEK
//
// Version 1, written before rewraps had records of their own, has times
// in Unix milliseconds and an 8-byte origin offset after them (-1 on a
// create, the create's offset on a rewrap).
const (
	entryVersion   = 2
	fixedEntry     = 61
	entryVersion1  = 1
	fixedEntryV1   = 69
	rewrapVersion  = 1
	fixedRewrap    = 23
	metaVersion    = 1
	metaValueBytes = 5
)

// Rewrap value layout ('w' records), version 1:
//
//	0   1   format version, 1
//	1   8   offset of the entry's 'd' record (its Seq)
//	9   4   KEK version
//	13  8   wrapped, Unix nanoseconds
//	21  2   EDEK length m, 1 to envelope.MaxEDEKLen
//	23  m   EDEK
//
// Metadata value layout ('m' record), version 1: the format version and
// the topic's partition count (4 bytes) when the store was created.

var errMalformed = errors.New("kafkastore: malformed key-store record")

func entryKey(id keyring.DEKID) []byte { return append([]byte{keyEntry}, id[:]...) }

func rewrapKey(id keyring.DEKID) []byte { return append([]byte{keyRewrap}, id[:]...) }

func quarantineKey(t keyring.Token) []byte { return append([]byte{keyQuarantine}, t[:]...) }

func encodeEntry(e keyring.Entry) []byte {
	b := make([]byte, 0, fixedEntry+len(e.KEKName)+len(e.EDEK))
	b = append(b, entryVersion, byte(e.Kind))
	b = append(b, e.Token[:]...)
	b = binary.BigEndian.AppendUint32(b, e.Generation)
	b = binary.BigEndian.AppendUint32(b, e.KEKVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Created.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Wrapped.UnixNano()))
	b = append(b, byte(len(e.KEKName)))
	b = append(b, e.KEKName...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.EDEK)))
	return append(b, e.EDEK...)
}

// decodeEntry decodes a 'd' value, checking every length before it
// slices. It returns the entry without ID and Seq. For a version 1 value
// it also returns its origin offset (-1 on a create); version 2 values
// always return -1.
func decodeEntry(b []byte) (keyring.Entry, int64, error) {
	var e keyring.Entry
	if len(b) == 0 {
		return e, 0, fmt.Errorf("%w: empty entry", errMalformed)
	}
	if b[0] != entryVersion && b[0] != entryVersion1 {
		return e, 0, fmt.Errorf("%w: entry format version %d, want %d or %d", errMalformed, b[0], entryVersion1, entryVersion)
	}
	fixed, unit, origin := fixedEntry, time.Nanosecond, int64(-1)
	if b[0] == entryVersion1 {
		fixed, unit = fixedEntryV1, time.Millisecond
	}
	if len(b) < fixed {
		return e, 0, fmt.Errorf("%w: entry is %d bytes, shorter than %d", errMalformed, len(b), fixed)
	}
	e.Kind = keyring.EntryKind(b[1])
	if e.Kind != keyring.KindSubjectDEK && e.Kind != keyring.KindTokenKey {
		return e, 0, fmt.Errorf("%w: unknown kind %d", errMalformed, b[1])
	}
	copy(e.Token[:], b[2:34])
	e.Generation = binary.BigEndian.Uint32(b[34:])
	e.KEKVersion = binary.BigEndian.Uint32(b[38:])
	e.Created = fromUnix(b[42:], unit)
	e.Wrapped = fromUnix(b[50:], unit)
	if b[0] == entryVersion1 {
		origin = int64(binary.BigEndian.Uint64(b[58:]))
	}

	var err error
	rest := b[fixed-3:]
	if e.KEKName, rest, err = decodeName(rest); err != nil {
		return e, 0, err
	}
	e.EDEK, err = decodeEDEK(rest)
	return e, origin, err
}

// rewrap is a decoded 'w' value.
type rewrap struct {
	seq        int64
	kekVersion uint32
	wrapped    time.Time
	edek       []byte
}

func encodeRewrap(e keyring.Entry) []byte {
	b := make([]byte, 0, fixedRewrap+len(e.EDEK))
	b = append(b, rewrapVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint32(b, e.KEKVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Wrapped.UnixNano()))
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.EDEK)))
	return append(b, e.EDEK...)
}

func decodeRewrap(b []byte) (rewrap, error) {
	var w rewrap
	if len(b) < fixedRewrap {
		return w, fmt.Errorf("%w: rewrap is %d bytes, shorter than %d", errMalformed, len(b), fixedRewrap)
	}
	if b[0] != rewrapVersion {
		return w, fmt.Errorf("%w: rewrap format version %d, want %d", errMalformed, b[0], rewrapVersion)
	}
	w.seq = int64(binary.BigEndian.Uint64(b[1:]))
	w.kekVersion = binary.BigEndian.Uint32(b[9:])
	w.wrapped = fromUnix(b[13:], time.Nanosecond)
	var err error
	w.edek, err = decodeEDEK(b[21:])
	return w, err
}

func encodeMeta(partitions int32) []byte {
	return binary.BigEndian.AppendUint32([]byte{metaVersion}, uint32(partitions))
}

func decodeMeta(b []byte) (int32, error) {
	if len(b) != metaValueBytes {
		return 0, fmt.Errorf("%w: metadata is %d bytes, want %d", errMalformed, len(b), metaValueBytes)
	}
	if b[0] != metaVersion {
		return 0, fmt.Errorf("%w: metadata format version %d, want %d", errMalformed, b[0], metaVersion)
	}
	n := int32(binary.BigEndian.Uint32(b[1:]))
	if n <= 0 {
		return 0, fmt.Errorf("%w: metadata names %d partitions", errMalformed, n)
	}
	return n, nil
}

// decodeName decodes a one-byte length and a KEK name of that length.
func decodeName(b []byte) (string, []byte, error) {
	if len(b) == 0 {
		return "", nil, fmt.Errorf("%w: KEK name length missing", errMalformed)
	}
	n := int(b[0])
	if n == 0 || 1+n > len(b) {
		return "", nil, fmt.Errorf("%w: KEK name length %d, %d bytes remain", errMalformed, n, len(b)-1)
	}
	return string(b[1 : 1+n]), b[1+n:], nil
}

// decodeEDEK decodes a two-byte length and an EDEK that fills the rest.
func decodeEDEK(b []byte) ([]byte, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: EDEK length missing", errMalformed)
	}
	m := int(binary.BigEndian.Uint16(b))
	if m == 0 || m > envelope.MaxEDEKLen || m != len(b)-2 {
		return nil, fmt.Errorf("%w: EDEK length %d, %d bytes remain", errMalformed, m, len(b)-2)
	}
	return append([]byte(nil), b[2:]...), nil
}

func fromUnix(b []byte, unit time.Duration) time.Time {
	n := int64(binary.BigEndian.Uint64(b))
	if unit == time.Millisecond {
		return time.UnixMilli(n)
	}
	return time.Unix(0, n)
}
