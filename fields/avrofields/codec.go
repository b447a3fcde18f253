package avrofields

import (
	"encoding/binary"
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
)

// EncryptProp is the field property that selects a field for encryption
// in the schema itself: {"name": "ssn", "type": "string",
// "kenvelope.encrypt": true}.
const EncryptProp = "kenvelope.encrypt"

// EncryptedProp is the property the derived writer schema sets to true on
// each field whose type it replaced with the ciphertext type.
const EncryptedProp = "kenvelope.encrypted"

// Codec is the fields.Codec for Avro binary records of one schema. It is
// safe for concurrent use.
type Codec struct {
	schema  avro.Schema
	derived avro.Schema
	sel     *fields.Selection
	marks   marks
	// original maps a record's full name to its fields in the original
	// schema, to check a decrypted field's encoding against its type.
	original map[string][]*avro.Field
	text     bool
}

// Opt configures New.
type Opt interface{ apply(*Codec) }

type optFunc func(*Codec)

func (f optFunc) apply(c *Codec) { f(c) }

// TextCiphertext makes each encrypted field an Avro string holding
// fields.Marker and base64, instead of the default Avro bytes holding the
// sealed value, for pipelines that cannot carry bytes.
func TextCiphertext() Opt { return optFunc(func(c *Codec) { c.text = true }) }

// New returns a Codec for records written with schema. It encrypts the
// record fields that sel selects (sel may be nil) and those whose schema
// sets EncryptProp to true. A path must end at a record field. It enters
// arrays with [*] and maps with *, and passes through unions into every
// branch it fits. Selecting a field inside a named record selects it in
// every use of that record, because the derived writer schema has one
// definition per name.
func New(schema avro.Schema, sel *fields.Selection, opts ...Opt) (*Codec, error) {
	if schema == nil {
		return nil, configErr("New needs a schema")
	}
	c := &Codec{schema: schema, sel: sel, marks: marks{}, original: map[string][]*avro.Field{}}
	for _, o := range opts {
		o.apply(c)
	}
	if sel != nil {
		for i := 0; i < sel.Len(); i++ {
			p := sel.Path(i)
			if _, err := resolve(c.marks, schema, p.Segments(), p.String()); err != nil {
				return nil, err
			}
		}
	}
	markProps(c.marks, schema, map[string]bool{})
	if len(c.marks) == 0 {
		return nil, configErr("no field selected: give paths or set %q on fields", EncryptProp)
	}
	collectRecords(c.original, schema)
	cipher := avro.Bytes
	if c.text {
		cipher = avro.String
	}
	var err error
	if c.derived, err = derive(schema, c.marks, cipher); err != nil {
		return nil, err
	}
	return c, nil
}

// Schema returns the schema records are written with before encryption,
// and that Decrypt's output follows.
func (c *Codec) Schema() avro.Schema { return c.schema }

// WriterSchema returns the derived schema of encrypted records: Schema
// with each encrypted field's type replaced by bytes (or string under
// TextCiphertext) and EncryptedProp set on it. Register it wherever
// readers look up writer schemas; Decrypt turns such records back into
// Schema's encoding.
func (c *Codec) WriterSchema() avro.Schema { return c.derived }

// Payload returns envelope.PayloadAvro.
func (c *Codec) Payload() envelope.Payload { return envelope.PayloadAvro }

func (c *Codec) walk(s avro.Schema, src []byte) ([]span, error) {
	w := walker{src: src, marks: c.marks}
	var root []*fields.Node
	if c.sel != nil {
		w.hits = make([]int, c.sel.Len())
		root = []*fields.Node{c.sel.Root()}
	}
	end, err := w.walk(s, 0, 0, root)
	if err != nil {
		return nil, err
	}
	if end != len(src) {
		return nil, invalid(end, "%d trailing bytes after the record", len(src)-end)
	}
	if c.sel != nil {
		if err := c.sel.CheckHits(w.hits); err != nil {
			return nil, err
		}
	}
	return w.spans, nil
}

// rewrite runs the second pass over src with schema s, replacing the
// k-th marked field with replace's output.
func (c *Codec) rewrite(s avro.Schema, src []byte, size int, replace func(k int, field []byte) ([]byte, error)) ([]byte, error) {
	w := walker{src: src, marks: c.marks, emit: true, out: make([]byte, 0, size), replace: replace}
	if _, err := w.walk(s, 0, 0, nil); err != nil {
		clear(w.out)
		return nil, err
	}
	return w.out, nil
}

// Encrypt replaces the encoding of each marked field with its sealed
// form, making a record of WriterSchema. The bytes of all other fields
// are copied unchanged, except the byte size of an array or map block
// (written with a negative count) whose items changed length.
func (c *Codec) Encrypt(src []byte, reserve fields.ReserveFunc) ([]byte, error) {
	spans, err := c.walk(c.schema, src)
	if err != nil {
		return nil, err
	}
	size := 0
	for _, s := range spans {
		size += s.end - s.start
	}
	sealer, err := reserve(len(spans), size)
	if err != nil {
		return nil, err
	}
	var field []byte
	return c.rewrite(c.schema, src, len(src)+len(spans)*(fields.MarkedLen(0)+10)+size/2, func(k int, plain []byte) ([]byte, error) {
		sealed := sealer.Seal(nil, plain, spans[k].path)
		if c.text {
			sealed = fields.AppendMarked(nil, sealed)
		}
		field = binary.AppendUvarint(field[:0], uint64(len(sealed))<<1)
		return append(field, sealed...), nil
	})
}

// Decrypt turns a record of WriterSchema back into Schema's encoding,
// opening every encrypted field.
func (c *Codec) Decrypt(src []byte, open fields.Opener) ([]byte, error) {
	spans, err := c.walk(c.derived, src)
	if err != nil {
		return nil, err
	}
	var sealed, plain []byte
	out, err := c.rewrite(c.derived, src, len(src), func(k int, field []byte) ([]byte, error) {
		s := spans[k]
		if sealed, err = c.sealedOf(sealed[:0], field); err != nil {
			return nil, &fields.FieldError{Path: s.shown, Err: err}
		}
		if plain, err = open.Open(plain[:0], sealed, s.path); err != nil {
			return nil, &fields.FieldError{Path: s.shown, Err: err}
		}
		if err = c.checkOpened(plain, s); err != nil {
			return nil, &fields.FieldError{Path: s.shown, Err: err}
		}
		return plain, nil
	})
	clear(plain)
	return out, err
}

// ContainsSealed reports whether src parses as a record of WriterSchema
// whose encrypted fields look sealed. Under TextCiphertext that means one
// of them starts with fields.Marker. Otherwise the record must have at
// least one encrypted field, each as long as a sealed empty value or
// longer.
//
// NOTE: Avro bytes carry no marker, so a record of Schema can pass for a
// sealed one when its encoding also parses under WriterSchema and every
// encrypted field is 32 bytes or longer, for example a single long string
// field. A consumer then fails such an unencrypted record instead of
// handing it on; it never hands on a sealed one.
func (c *Codec) ContainsSealed(src []byte) bool {
	w := walker{src: src, marks: c.marks}
	end, err := w.walk(c.derived, 0, 0, nil)
	if err != nil || end != len(src) || len(w.spans) == 0 {
		return false
	}
	for _, s := range w.spans {
		n, j, err := readLen(src[:s.end], s.start)
		if err != nil {
			return false
		}
		data := src[j : j+n]
		if c.text && fields.HasMarker(data) {
			return true
		}
		if !c.text && len(data) < envelope.Overhead {
			return false
		}
	}
	return !c.text
}

// sealedOf appends to dst the sealed value in field, the encoding of a
// ciphertext field.
func (c *Codec) sealedOf(dst, field []byte) ([]byte, error) {
	n, j, err := readLen(field, 0)
	if err != nil {
		return nil, err
	}
	data := field[j : j+n]
	if c.text {
		return fields.DecodeMarked(dst, data)
	}
	if len(data) < envelope.Overhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a sealed value", fields.ErrBadMarker, len(data))
	}
	return append(dst, data...), nil
}

// checkOpened checks that plain is exactly one value of the field's
// original type. The AEAD already vouches for the bytes; this catches a
// producer whose schema differs from the consumer's.
func (c *Codec) checkOpened(plain []byte, s span) error {
	typ := c.original[s.record][s.index].Type()
	end, err := skip(plain, typ, 0, 0)
	if err == nil && end != len(plain) {
		err = invalid(end, "%d trailing bytes after the field value", len(plain)-end)
	}
	if err != nil {
		return fmt.Errorf("opened field does not match its type in the schema: %w", err)
	}
	return nil
}

// collectRecords maps each record's full name in s to its fields.
func collectRecords(m map[string][]*avro.Field, s avro.Schema) {
	switch t := deref(s).(type) {
	case *avro.RecordSchema:
		if m[t.FullName()] != nil {
			return
		}
		m[t.FullName()] = t.Fields()
		for _, f := range t.Fields() {
			collectRecords(m, f.Type())
		}
	case *avro.ArraySchema:
		collectRecords(m, t.Items())
	case *avro.MapSchema:
		collectRecords(m, t.Values())
	case *avro.UnionSchema:
		for _, b := range t.Types() {
			collectRecords(m, b)
		}
	}
}
