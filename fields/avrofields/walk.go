package avrofields

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hamba/avro/v2"

	"github.com/kenvelope/kenvelope/fields"
)

// maxDepth bounds nesting in a record, so that a recursive schema and a
// hostile record cannot exhaust the stack.
const maxDepth = 256

func invalid(at int, format string, args ...any) error {
	return &fields.InvalidRecordError{Format: "Avro", Offset: at, Reason: fmt.Sprintf(format, args...)}
}

// readLong reads a zig-zag varint of at most maxBytes bytes at i.
func readLong(src []byte, i, maxBytes int) (int64, int, error) {
	u, n := binary.Uvarint(src[i:])
	if n <= 0 || n > maxBytes {
		return 0, 0, invalid(i, "malformed or truncated variable-length integer")
	}
	return int64(u>>1) ^ -int64(u&1), i + n, nil
}

// readLen reads a non-negative length at i that fits in what remains.
func readLen(src []byte, i int) (int, int, error) {
	n, j, err := readLong(src, i, 10)
	if err != nil {
		return 0, 0, err
	}
	if n < 0 || n > int64(len(src)-j) {
		return 0, 0, invalid(i, "length %d exceeds the %d bytes that remain", n, len(src)-j)
	}
	return int(n), j, nil
}

// skip returns the offset just past the value of schema s at i, checking
// that the encoding is well formed.
func skip(src []byte, s avro.Schema, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, invalid(i, "nesting deeper than %d", maxDepth)
	}
	s = deref(s)
	switch t := s.(type) {
	case *avro.RecordSchema:
		var err error
		for _, f := range t.Fields() {
			if i, err = skip(src, f.Type(), i, depth+1); err != nil {
				return 0, err
			}
		}
		return i, nil
	case *avro.ArraySchema:
		return skipBlocks(src, i, zeroSize(t.Items()), func(j int) (int, error) { return skip(src, t.Items(), j, depth+1) })
	case *avro.MapSchema:
		return skipBlocks(src, i, false, func(j int) (int, error) {
			n, j, err := readLen(src, j)
			if err != nil {
				return 0, err
			}
			return skip(src, t.Values(), j+n, depth+1)
		})
	case *avro.UnionSchema:
		b, j, err := unionBranch(src, t, i)
		if err != nil {
			return 0, err
		}
		return skip(src, b, j, depth+1)
	case *avro.EnumSchema:
		v, j, err := readLong(src, i, 5)
		if err == nil && (v < 0 || v >= int64(len(t.Symbols()))) {
			err = invalid(i, "enum %s index %d out of range", t.FullName(), v)
		}
		return j, err
	case *avro.FixedSchema:
		return fixed(src, i, t.Size())
	default:
		return skipPrimitive(src, s.Type(), i)
	}
}

func skipPrimitive(src []byte, t avro.Type, i int) (int, error) {
	switch t {
	case avro.Null:
		return i, nil
	case avro.Boolean:
		if i >= len(src) || src[i] > 1 {
			return 0, invalid(i, "boolean is not 0 or 1")
		}
		return i + 1, nil
	case avro.Int:
		v, j, err := readLong(src, i, 5)
		if err == nil && (v < math.MinInt32 || v > math.MaxInt32) {
			err = invalid(i, "int out of range")
		}
		return j, err
	case avro.Long:
		_, j, err := readLong(src, i, 10)
		return j, err
	case avro.Float:
		return fixed(src, i, 4)
	case avro.Double:
		return fixed(src, i, 8)
	case avro.Bytes, avro.String:
		n, j, err := readLen(src, i)
		return j + n, err
	default:
		return 0, invalid(i, "unsupported schema type %s", t)
	}
}

func fixed(src []byte, i, n int) (int, error) {
	if n > len(src)-i {
		return 0, invalid(i, "truncated: %d bytes needed, %d remain", n, len(src)-i)
	}
	return i + n, nil
}

func unionBranch(src []byte, u *avro.UnionSchema, i int) (avro.Schema, int, error) {
	v, j, err := readLong(src, i, 10)
	if err != nil {
		return nil, 0, err
	}
	if v < 0 || v >= int64(len(u.Types())) {
		return nil, 0, invalid(i, "union branch %d out of range", v)
	}
	return u.Types()[v], j, nil
}

// maxEmptyItems bounds the items of one block whose encoding may take no
// bytes (null), so that a hostile count cannot spin the walker.
const maxEmptyItems = 1 << 20

// zeroSize reports whether a value of s can take no bytes.
func zeroSize(s avro.Schema) bool {
	switch t := deref(s).(type) {
	case *avro.RecordSchema:
		for _, f := range t.Fields() {
			if !zeroSize(f.Type()) {
				return false
			}
		}
		return true
	case *avro.FixedSchema:
		return t.Size() == 0
	default:
		return s.Type() == avro.Null
	}
}

// skipBlocks walks the blocks of an array or map at i, calling item for
// each item. A negative block count is followed by the block's size in
// bytes, which is checked against what item consumes. empty reports
// whether an item can take no bytes.
func skipBlocks(src []byte, i int, empty bool, item func(int) (int, error)) (int, error) {
	for {
		start := i
		count, j, err := readLong(src, i, 10)
		if err != nil {
			return 0, err
		}
		i = j
		if count == 0 {
			return i, nil
		}
		size := int64(-1)
		if count < 0 {
			if count == math.MinInt64 {
				return 0, invalid(start, "block count out of range")
			}
			count = -count
			if size, i, err = readLong(src, i, 10); err != nil {
				return 0, err
			}
		}
		if (!empty && count > int64(len(src)-i)) || count > maxEmptyItems+int64(len(src)) {
			return 0, invalid(start, "block of %d items exceeds the %d bytes that remain", count, len(src)-i)
		}
		blockStart := i
		for ; count > 0; count-- {
			if i, err = item(i); err != nil {
				return 0, err
			}
		}
		if size >= 0 && int64(i-blockStart) != size {
			return 0, invalid(start, "block size %d does not match its items (%d bytes)", size, i-blockStart)
		}
	}
}
