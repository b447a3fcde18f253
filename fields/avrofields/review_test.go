package avrofields_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/fields/avrofields"
)

// roundTripSchema encodes v with schema, encrypts it with a codec for
// paths, checks that decryption gives the encoding back, and returns the
// encrypted record, the plain encoding, the codec and the cipher.
func roundTripSchema(t *testing.T, schema string, paths []string, v any, opts ...avrofields.Opt) (enc, src []byte, c *avrofields.Codec, e *env) {
	t.Helper()
	s, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	var sel *fields.Selection
	if len(paths) > 0 {
		if sel, err = fields.NewSelection(paths); err != nil {
			t.Fatal(err)
		}
	}
	if c, err = avrofields.New(s, sel, opts...); err != nil {
		t.Fatalf("New() err = %v", err)
	}
	if src, err = avro.Marshal(s, v); err != nil {
		t.Fatal(err)
	}

	e = newEnv(t, nil)
	var n int
	if enc, err = c.Encrypt(src, e.reserve(&n)); err != nil {
		t.Fatalf("Encrypt() err = %v", err)
	}
	dec, err := c.Decrypt(enc, e.cipher)
	if err != nil {
		t.Fatalf("Decrypt() err = %v", err)
	}
	if !bytes.Equal(dec, src) {
		t.Errorf("Decrypt() differs from the original encoding")
	}
	return enc, src, c, e
}

// A named enum defined inside an encrypted field and used again later in
// the record: the derived schema must still define it.
func TestAvroEnumDefinedInsideMarked(t *testing.T) {
	schema := `{"type":"record","name":"R","namespace":"ns","fields":[
	  {"name":"a","type":{"type":"enum","name":"E","symbols":["x","y"]},"kenvelope.encrypt":true},
	  {"name":"b","type":"E"},
	  {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2},"kenvelope.encrypt":true},
	  {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"},"default":0,"kenvelope.encrypt":true},
	  {"name":"u","type":["null",{"type":"string","logicalType":"uuid"}],"default":null,"kenvelope.encrypt":true}]}`
	v := map[string]any{"a": "y", "b": "x", "d": []byte{1, 2}, "ts": int64(5), "u": "0b3f4a3c-0000-4000-8000-000000000000"}
	_, _, c, _ := roundTripSchema(t, schema, nil, v)
	if !strings.Contains(c.WriterSchema().String(), `"ns.E"`) {
		t.Errorf("derived schema %s lacks ns.E", c.WriterSchema())
	}
}

const mrnSchema = `{"type":"record","name":"R","fields":[
  {"name":"byMRN","type":{"type":"map","values":{"type":"record","name":"V","fields":[{"name":"dx","type":"string"}]}}}]}`

// A map keyed by medical record number: an error on one field names the
// configured path, not the key.
func TestAvroErrorHidesMapKey(t *testing.T) {
	v := map[string]any{"byMRN": map[string]any{"MRN-0042-SECRET": map[string]any{"dx": "flu"}}}
	enc, _, c, e := roundTripSchema(t, mrnSchema, []string{"byMRN.*.dx"}, v, avrofields.TextCiphertext())
	i := bytes.Index(enc, []byte(fields.Marker))
	bad := bytes.Clone(enc)
	bad[i+len(fields.Marker)] = '!'
	_, err := c.Decrypt(bad, e.cipher)
	var fe *fields.FieldError
	if !errors.As(err, &fe) || fe.Path != "byMRN.*.dx" {
		t.Fatalf("Decrypt(bad marker) err = %v, want a *FieldError on byMRN.*.dx", err)
	}
	if strings.Contains(err.Error(), "MRN-0042") {
		t.Errorf("error text %q contains a map key taken from the record", err)
	}
}

func TestAvroContainsSealed(t *testing.T) {
	short := map[string]any{"byMRN": map[string]any{"m1": map[string]any{"dx": "flu"}}}
	for _, text := range []bool{false, true} {
		var opts []avrofields.Opt
		if text {
			opts = append(opts, avrofields.TextCiphertext())
		}
		enc, src, c, _ := roundTripSchema(t, mrnSchema, []string{"byMRN.*.dx"}, short, opts...)
		if !c.ContainsSealed(enc) {
			t.Errorf("text %v: ContainsSealed(encrypted record) = false, want true", text)
		}
		if c.ContainsSealed(src) {
			t.Errorf("text %v: ContainsSealed(plain record) = true, want false", text)
		}
		if c.ContainsSealed(enc[:len(enc)-1]) {
			t.Errorf("text %v: ContainsSealed(truncated record) = true, want false", text)
		}
	}

	// With no encrypted field in the record there is nothing to tell by.
	marked := strings.Replace(mrnSchema, `"type":"string"}`, `"type":"string","kenvelope.encrypt":true}`, 1)
	empty := map[string]any{"byMRN": map[string]any{}}
	enc, _, c, _ := roundTripSchema(t, marked, nil, empty)
	if c.ContainsSealed(enc) {
		t.Error("ContainsSealed(record without encrypted fields) = true, want false")
	}
}
