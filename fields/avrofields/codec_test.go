package avrofields_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/fields/avrofields"
)

const patientSchema = `{"type":"record","name":"Patient","namespace":"fhir","fields":[
  {"name":"id","type":"string"},
  {"name":"name","type":{"type":"array","items":{"type":"record","name":"HumanName","fields":[
    {"name":"family","type":"string"},
    {"name":"given","type":{"type":"array","items":"string"}}]}}},
  {"name":"home","type":["null",{"type":"record","name":"Address","fields":[
    {"name":"line","type":"string"},{"name":"city","type":"string"}]}],"default":null},
  {"name":"work","type":["null","Address"],"default":null},
  {"name":"ssn","type":"string","kenvelope.encrypt":true},
  {"name":"gender","type":["string",{"type":"enum","name":"Gender","symbols":["male","female"]}]},
  {"name":"birth","type":{"type":"int","logicalType":"date"}},
  {"name":"attrs","type":{"type":"map","values":"long"}},
  {"name":"score","type":"double"}]}`

func patient(home, work any) map[string]any {
	return map[string]any{
		"id":     "p1",
		"name":   []any{map[string]any{"family": "Doe", "given": []any{"Jane", "Q"}}},
		"home":   home,
		"work":   work,
		"ssn":    "123-45-6789",
		"gender": map[string]any{"fhir.Gender": "female"},
		"birth":  int32(100),
		"attrs":  map[string]any{"visits": int64(3)},
		"score":  0.5,
	}
}

func address(line, city string) map[string]any {
	return map[string]any{"fhir.Address": map[string]any{"line": line, "city": city}}
}

type env struct {
	schema avro.Schema
	codec  *avrofields.Codec
	cipher *fields.RecordCipher
}

func newEnv(t *testing.T, paths []string, opts ...avrofields.Opt) *env {
	t.Helper()
	s, err := avro.ParseWithCache(patientSchema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	var sel *fields.Selection
	if len(paths) > 0 {
		if sel, err = fields.NewSelection(paths); err != nil {
			t.Fatal(err)
		}
	}
	c, err := avrofields.New(s, sel, opts...)
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	d := envelope.Descriptor{Algorithm: envelope.AES256GCM, Scope: envelope.ScopeStream, Payload: envelope.PayloadAvro,
		KEKName: "k", KEKVersion: 1, KeyRef: []byte{1}}
	desc, _ := d.Marshal()
	return &env{schema: s, codec: c, cipher: &fields.RecordCipher{DEK: envelope.NewDEK(), Descriptor: desc, Topic: "t"}}
}

func (e *env) encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := avro.Marshal(e.schema, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) reserve(count *int) fields.ReserveFunc {
	return func(n, _ int) (fields.Sealer, error) { *count = n; return e.cipher, nil }
}

func TestAvroRoundTrip(t *testing.T) {
	for _, text := range []bool{false, true} {
		var opts []avrofields.Opt
		if text {
			opts = append(opts, avrofields.TextCiphertext())
		}
		e := newEnv(t, []string{"name[*].given", "home.line", "gender"}, opts...)
		src := e.encode(t, patient(address("1 Main St", "Springfield"), address("2 Work Rd", "Shelbyville")))
		var n int
		enc, err := e.codec.Encrypt(src, e.reserve(&n))
		if err != nil {
			t.Fatalf("Encrypt() err = %v", err)
		}
		// given, home.line, work.line (Address reused), ssn (property), gender.
		if n != 5 {
			t.Errorf("text=%v: sealed %d fields, want 5", text, n)
		}
		for _, secret := range []string{"Jane", "1 Main", "2 Work", "123-45", "female"} {
			if bytes.Contains(enc, []byte(secret)) {
				t.Errorf("text=%v: encrypted record contains %q", text, secret)
			}
		}
		var got map[string]any
		if err := avro.Unmarshal(e.codec.WriterSchema(), enc, &got); err != nil {
			t.Fatalf("text=%v: Unmarshal(WriterSchema, encrypted) err = %v", text, err)
		}
		if got["id"] != "p1" || got["score"] != 0.5 {
			t.Errorf("text=%v: clear fields = %v, %v; want p1, 0.5", text, got["id"], got["score"])
		}
		home := got["home"].(map[string]any)["fhir.Address"].(map[string]any)
		if home["city"] != "Springfield" {
			t.Errorf("text=%v: home.city = %v, want Springfield", text, home["city"])
		}
		if !bytes.HasPrefix(enc, src[:3]) {
			t.Errorf("text=%v: leading clear field changed", text)
		}
		dec, err := e.codec.Decrypt(enc, e.cipher)
		if err != nil {
			t.Fatalf("text=%v: Decrypt() err = %v", text, err)
		}
		if !bytes.Equal(dec, src) {
			t.Errorf("text=%v: Decrypt() differs from the original encoding", text)
		}
	}
}

func TestAvroDerivedSchema(t *testing.T) {
	e := newEnv(t, []string{"home.line"})
	ws := e.codec.WriterSchema().(*avro.RecordSchema)
	byName := map[string]*avro.Field{}
	for _, f := range ws.Fields() {
		byName[f.Name()] = f
	}
	if byName["ssn"].Type().Type() != avro.Bytes || byName["ssn"].Prop(avrofields.EncryptedProp) != true {
		t.Errorf("derived ssn = %s, want bytes marked %s", byName["ssn"].Type(), avrofields.EncryptedProp)
	}
	if byName["id"].Type().Type() != avro.String {
		t.Errorf("derived id = %s, want string", byName["id"].Type())
	}
	addr := byName["work"].Type().(*avro.UnionSchema).Types()[1]
	if r, ok := addr.(*avro.RefSchema); ok {
		addr = r.Schema()
	}
	line := addr.(*avro.RecordSchema).Fields()[0]
	if line.Type().Type() != avro.Bytes {
		t.Errorf("derived Address.line = %s, want bytes", line.Type())
	}
}

func TestAvroNullUnion(t *testing.T) {
	e := newEnv(t, []string{"home.line"})
	var n int
	// work is null and no rule names it: fine. home is null: the rule
	// home.line matches nothing.
	if _, err := e.codec.Encrypt(e.encode(t, patient(address("a", "b"), nil)), e.reserve(&n)); err != nil {
		t.Errorf("Encrypt(work null) err = %v", err)
	}
	_, err := e.codec.Encrypt(e.encode(t, patient(nil, address("a", "b"))), e.reserve(&n))
	var fe *fields.FieldError
	if !errors.Is(err, fields.ErrMissingField) || !errors.As(err, &fe) || fe.Path != "home.line" {
		t.Errorf("Encrypt(home null) err = %v, want ErrMissingField on home.line", err)
	}
}

func TestAvroRecursive(t *testing.T) {
	schema := `{"type":"record","name":"Node","fields":[{"name":"v","type":"string","kenvelope.encrypt":true},{"name":"next","type":["null","Node"]}]}`
	s, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := avrofields.New(s, nil)
	if err != nil {
		t.Fatalf("New(recursive) err = %v", err)
	}
	src, err := avro.Marshal(s, map[string]any{"v": "a", "next": map[string]any{"Node": map[string]any{"v": "b", "next": nil}}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	var n int
	enc, err := c.Encrypt(src, e.reserve(&n))
	if err != nil || n != 2 {
		t.Fatalf("Encrypt() sealed %d, err %v; want 2", n, err)
	}
	dec, err := c.Decrypt(enc, e.cipher)
	if err != nil || !bytes.Equal(dec, src) {
		t.Fatalf("Decrypt() err = %v, equal %v", err, bytes.Equal(dec, src))
	}
}

func TestAvroConfigErrors(t *testing.T) {
	s, err := avro.ParseWithCache(patientSchema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"nosuch", "name[0].given", "name[*]", "attrs.visits", "id.x", "home.nosuch"} {
		sel, err := fields.NewSelection([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := avrofields.New(s, sel); !errors.Is(err, fields.ErrConfig) {
			t.Errorf("New(%q) err = %v, want ErrConfig", path, err)
		}
	}
	plain, _ := avro.ParseWithCache(`{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`, "", &avro.SchemaCache{})
	if _, err := avrofields.New(plain, nil); !errors.Is(err, fields.ErrConfig) {
		t.Errorf("New(no field selected) err = %v, want ErrConfig", err)
	}
}

func TestAvroInvalidRecord(t *testing.T) {
	e := newEnv(t, []string{"home.line"})
	src := e.encode(t, patient(address("a", "b"), nil))
	var n int
	for name, bad := range map[string][]byte{
		"truncated": src[:len(src)-3],
		"trailing":  append(bytes.Clone(src), 0),
		"empty":     {},
		"huge len":  {0xfe, 0xff, 0xff, 0xff, 0x0f},
	} {
		_, err := e.codec.Encrypt(bad, e.reserve(&n))
		if !errors.Is(err, fields.ErrInvalidRecord) {
			t.Errorf("Encrypt(%s) err = %v, want ErrInvalidRecord", name, err)
		}
		if _, err := e.codec.Decrypt(bad, e.cipher); !errors.Is(err, fields.ErrInvalidRecord) {
			t.Errorf("Decrypt(%s) err = %v, want ErrInvalidRecord", name, err)
		}
	}
}

func TestAvroTampered(t *testing.T) {
	e := newEnv(t, []string{"home.line"}, avrofields.TextCiphertext())
	src := e.encode(t, patient(address("a", "b"), address("c", "d")))
	var n int
	enc, err := e.codec.Encrypt(src, e.reserve(&n))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(enc, []byte(fields.Marker))
	bad := bytes.Clone(enc)
	bad[i+len(fields.Marker)] = '!'
	_, err = e.codec.Decrypt(bad, e.cipher)
	if !errors.Is(err, fields.ErrBadMarker) || !strings.Contains(err.Error(), `"home.line"`) {
		t.Errorf("Decrypt(bad marker) err = %v, want ErrBadMarker on home.line", err)
	}
}

func TestAvroBlockEncodingKept(t *testing.T) {
	// attrs written as one block with a negative count and a byte size, as
	// some encoders do; the encrypted record must keep those bytes.
	schema := `{"type":"record","name":"R","fields":[{"name":"s","type":"string","kenvelope.encrypt":true},{"name":"m","type":{"type":"map","values":"long"}}]}`
	s, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := avrofields.New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	// s = "x"; m = block count -1, size 3, key "a", value 1, end.
	src := []byte{0x02, 'x', 0x01, 0x06, 0x02, 'a', 0x02, 0x00}
	e := newEnv(t, nil)
	var n int
	enc, err := c.Encrypt(src, e.reserve(&n))
	if err != nil {
		t.Fatalf("Encrypt() err = %v", err)
	}
	if !bytes.HasSuffix(enc, src[2:]) {
		t.Errorf("Encrypt() changed the map's block encoding")
	}
	dec, err := c.Decrypt(enc, e.cipher)
	if err != nil || !bytes.Equal(dec, src) {
		t.Errorf("Decrypt() = %x, err %v; want %x", dec, err, src)
	}
}
