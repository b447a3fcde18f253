package avrofields

import (
	"encoding/json"
	"fmt"

	"github.com/hamba/avro/v2"
)

// deriver writes the JSON of the derived writer schema: the original
// schema with each marked field's type replaced by the ciphertext type.
// It defines each named type at its first use in the derived schema,
// which is not always where the original defined it, because a
// definition inside an encrypted field disappears with the field's type.
type deriver struct {
	marks   marks
	cipher  avro.Type // avro.Bytes or avro.String
	defined map[string]bool
}

func (d *deriver) schema(s avro.Schema) (json.RawMessage, error) {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		if d.defined[n.FullName()] {
			return json.Marshal(n.FullName())
		}
		d.defined[n.FullName()] = true
	}
	switch t := s.(type) {
	case *avro.RecordSchema:
		return d.record(t)
	case *avro.ArraySchema:
		return d.replace(t, "items", t.Items())
	case *avro.MapSchema:
		return d.replace(t, "values", t.Values())
	case *avro.UnionSchema:
		out := make([]json.RawMessage, len(t.Types()))
		for i, b := range t.Types() {
			var err error
			if out[i], err = d.schema(b); err != nil {
				return nil, err
			}
		}
		return json.Marshal(out)
	default:
		return json.Marshal(s)
	}
}

// replace marshals s with the member key replaced by the derived inner.
func (d *deriver) replace(s avro.Schema, key string, inner avro.Schema) (json.RawMessage, error) {
	obj, err := objectOf(s)
	if err != nil {
		return nil, err
	}
	if obj[key], err = d.schema(inner); err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

func (d *deriver) record(r *avro.RecordSchema) (json.RawMessage, error) {
	obj, err := objectOf(r)
	if err != nil {
		return nil, err
	}
	fs := make([]json.RawMessage, len(r.Fields()))
	for i, f := range r.Fields() {
		fobj, err := objectOf(f)
		if err != nil {
			return nil, err
		}
		if d.marks.has(r, i) {
			delete(fobj, "default")
			fobj["type"], _ = json.Marshal(string(d.cipher))
			fobj[EncryptedProp], _ = json.Marshal(true)
		} else if fobj["type"], err = d.schema(f.Type()); err != nil {
			return nil, err
		}
		if fs[i], err = json.Marshal(fobj); err != nil {
			return nil, err
		}
	}
	obj["fields"], err = json.Marshal(fs)
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

func objectOf(v any) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("avrofields: marshal schema: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("avrofields: marshal schema: %w", err)
	}
	return obj, nil
}

// derive returns the derived writer schema of s.
func derive(s avro.Schema, m marks, cipher avro.Type) (avro.Schema, error) {
	d := deriver{marks: m, cipher: cipher, defined: map[string]bool{}}
	text, err := d.schema(s)
	if err != nil {
		return nil, err
	}
	out, err := avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("avrofields: parse derived schema: %w", err)
	}
	return out, nil
}
