package avrofields

import (
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/kenvelope/kenvelope/fields"
)

// marks records, per record type full name, which fields are encrypted.
// A mark applies to the type, so a named record used by several fields is
// encrypted wherever it appears.
type marks map[string][]bool

func (m marks) set(r *avro.RecordSchema, field int) {
	if m[r.FullName()] == nil {
		m[r.FullName()] = make([]bool, len(r.Fields()))
	}
	m[r.FullName()][field] = true
}

func (m marks) has(r *avro.RecordSchema, field int) bool {
	f := m[r.FullName()]
	return f != nil && f[field]
}

// deref returns the named schema a reference points to.
func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("avrofields: "+format+": %w", append(args, fields.ErrConfig)...)
}

// resolve marks the record field that segs reach from s, following every
// union branch the next segment fits. It returns how many fields it
// marked.
func resolve(m marks, s avro.Schema, segs []fields.Segment, path string) (int, error) {
	s = deref(s)
	if u, ok := s.(*avro.UnionSchema); ok {
		total := 0
		for _, b := range u.Types() {
			if n, err := resolve(m, b, segs, path); err == nil {
				total += n
			}
		}
		if total == 0 {
			return 0, configErr("path %q: no branch of union %s fits segment %q", path, u.String(), fields.FormatSegments(segs[:1]))
		}
		return total, nil
	}
	seg := segs[0]
	switch t := s.(type) {
	case *avro.RecordSchema:
		if seg.Kind != fields.Member {
			return 0, configErr("path %q: record %s is entered by field name, not %q", path, t.FullName(), fields.FormatSegments(segs[:1]))
		}
		for i, f := range t.Fields() {
			if f.Name() != seg.Name {
				continue
			}
			if len(segs) == 1 {
				m.set(t, i)
				return 1, nil
			}
			return resolve(m, f.Type(), segs[1:], path)
		}
		return 0, configErr("path %q: record %s has no field %q", path, t.FullName(), seg.Name)
	case *avro.ArraySchema:
		if seg.Kind != fields.AnyIndex {
			return 0, configErr("path %q: an Avro array is entered with [*]; one element cannot be selected, because all elements share one schema", path)
		}
		return resolveInner(m, t.Items(), segs, path)
	case *avro.MapSchema:
		if seg.Kind != fields.AnyMember {
			return 0, configErr("path %q: an Avro map is entered with *; one entry cannot be selected, because all values share one schema", path)
		}
		return resolveInner(m, t.Values(), segs, path)
	default:
		return 0, configErr("path %q: segment %q does not fit type %s", path, fields.FormatSegments(segs[:1]), s.Type())
	}
}

func resolveInner(m marks, s avro.Schema, segs []fields.Segment, path string) (int, error) {
	if len(segs) == 1 {
		return 0, configErr("path %q ends at an array element or map value; select the record field that holds the array or map", path)
	}
	return resolve(m, s, segs[1:], path)
}

// markProps marks every record field, reachable from s, whose schema
// property EncryptProp is true.
func markProps(m marks, s avro.Schema, seen map[string]bool) {
	switch t := deref(s).(type) {
	case *avro.RecordSchema:
		if seen[t.FullName()] {
			return
		}
		seen[t.FullName()] = true
		for i, f := range t.Fields() {
			if v, ok := f.Prop(EncryptProp).(bool); ok && v {
				m.set(t, i)
			}
			markProps(m, f.Type(), seen)
		}
	case *avro.ArraySchema:
		markProps(m, t.Items(), seen)
	case *avro.MapSchema:
		markProps(m, t.Values(), seen)
	case *avro.UnionSchema:
		for _, b := range t.Types() {
			markProps(m, b, seen)
		}
	}
}
