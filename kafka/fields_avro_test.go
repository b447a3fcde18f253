package kafka_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields/avrofields"
	"github.com/kenvelope/kenvelope/kafka"
)

// avroPatient returns a codec for records {id, ssn} with ssn encrypted,
// and the encoding of one record.
func avroPatient(t *testing.T) (*avrofields.Codec, []byte) {
	t.Helper()
	schema, err := avro.ParseWithCache(`{"type":"record","name":"P","fields":[
		{"name":"id","type":"string"},{"name":"ssn","type":"string","kenvelope.encrypt":true}]}`, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	codec, err := avrofields.New(schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	value, err := avro.Marshal(schema, map[string]any{"id": "p1", "ssn": "123-45-6789"})
	if err != nil {
		t.Fatal(err)
	}
	return codec, value
}

func TestFieldsAvroRoundTrip(t *testing.T) {
	codec, value := avroPatient(t)
	e := newEnv(t, "avro")
	produce(t, e.producer(kafka.Fields(codec)), &kgo.Record{Topic: "avro", Key: []byte("k"), Value: value})

	stored := e.raw("avro", 1)[0]
	if bytes.Contains(stored.Value, []byte("123-45")) {
		t.Error("stored value contains the selected field in clear")
	}
	d, err := envelope.Parse(stored.Headers[0].Value)
	if err != nil || d.Payload != envelope.PayloadAvro {
		t.Errorf("stored descriptor payload = %v, err %v; want PayloadAvro", d.Payload, err)
	}
	var asStored map[string]any
	if err := avro.Unmarshal(codec.WriterSchema(), stored.Value, &asStored); err != nil || asStored["id"] != "p1" {
		t.Errorf("stored value under WriterSchema = %v, err %v; want id p1 readable", asStored, err)
	}

	got, err := pollN(t, e.consumer("avro", kafka.Fields(codec)), 1)
	if err != nil {
		t.Fatalf("Poll() err = %v", err)
	}
	if !bytes.Equal(got[0].Value, value) {
		t.Errorf("consumed value = %x, want %x", got[0].Value, value)
	}
}

// Avro bytes carry no marker, but the codec recognises a record of its
// writer schema whose encrypted field has the length of a sealed value.
func TestFieldsAvroStrippedDescriptor(t *testing.T) {
	codec, value := avroPatient(t)
	e := newEnv(t, "avro", "copy")
	produce(t, e.producer(kafka.Fields(codec)), &kgo.Record{Topic: "avro", Key: []byte("k"), Value: value})
	copyRaw(t, e, e.raw("avro", 1)[0], "copy", []byte("k"), withoutHeaders(envelope.HeaderName, envelope.TagHeaderName))
	err := decryptErr(t, e, "copy", kafka.Fields(codec), kafka.AllowUnencrypted())
	if !errors.Is(err, kafka.ErrFieldsWithoutDescriptor) {
		t.Errorf("Poll(Avro record without kenvelope headers) err = %v, want ErrFieldsWithoutDescriptor", err)
	}
}
