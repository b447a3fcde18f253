package kafka_test

import (
	"bytes"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields/avrofields"
	"github.com/kenvelope/kenvelope/kafka"
)

func TestFieldsAvroRoundTrip(t *testing.T) {
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
