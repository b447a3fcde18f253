package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kafka"
)

func TestRoundTripValue(t *testing.T) {
	e := newEnv(t, "fhir")
	p := e.producer()
	in := &kgo.Record{Topic: "fhir", Key: []byte("patient-1"), Value: []byte(`{"resourceType":"Patient"}`)}
	produce(t, p, in)
	if string(in.Value) != `{"resourceType":"Patient"}` || len(in.Headers) != 0 {
		t.Fatalf("record after produce = %q with %d headers, want the caller's value and headers restored", in.Value, len(in.Headers))
	}

	stored := e.raw("fhir", 1)[0]
	if bytes.Contains(stored.Value, []byte("Patient")) {
		t.Fatal("stored value contains plaintext")
	}
	if len(stored.Headers) != 1 || stored.Headers[0].Key != envelope.HeaderName {
		t.Fatalf("stored headers = %v, want one %q header", stored.Headers, envelope.HeaderName)
	}

	got, err := pollN(t, e.consumer("fhir"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0].Value) != `{"resourceType":"Patient"}` || !got[0].Encrypted || got[0].KEKName != "patients" {
		t.Fatalf("consumed = %q encrypted=%v kek=%q, want the plaintext, true, patients", got[0].Value, got[0].Encrypted, got[0].KEKName)
	}
	if len(got[0].Headers) != 0 {
		t.Fatalf("consumed headers = %v, want the descriptor header removed", got[0].Headers)
	}
}

func TestTombstoneStaysNil(t *testing.T) {
	e := newEnv(t, "fhir")
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: nil})
	if stored := e.raw("fhir", 1)[0]; stored.Value != nil || len(stored.Headers) != 0 {
		t.Fatalf("stored tombstone = %v with %d headers, want nil and none", stored.Value, len(stored.Headers))
	}
	got, err := pollN(t, e.consumer("fhir"), 1)
	if err != nil || got[0].Value != nil {
		t.Fatalf("consumed tombstone = %v, %v, want nil value, nil error", got[0].Value, err)
	}
}

func TestTombstoneWithHeaderIsNotAnError(t *testing.T) {
	e := newEnv(t, "fhir")
	cl := e.client()
	r := &kgo.Record{Topic: "fhir", Key: []byte("p1"), Headers: []kgo.RecordHeader{{Key: envelope.HeaderName, Value: []byte{1}}}}
	if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got, err := pollN(t, e.consumer("fhir"), 1)
	if err != nil || got[0].Value != nil || len(got[0].Headers) != 0 {
		t.Fatalf("consumed = %v headers %v, %v, want nil value, no headers, nil error", got[0].Value, got[0].Headers, err)
	}
}

func TestEmptyValueComesBackEmpty(t *testing.T) {
	e := newEnv(t, "fhir")
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte{}})
	if stored := e.raw("fhir", 1)[0]; len(stored.Value) != envelope.Overhead {
		t.Fatalf("stored empty value is %d bytes, want %d (sealed)", len(stored.Value), envelope.Overhead)
	}
	got, err := pollN(t, e.consumer("fhir"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Value == nil || len(got[0].Value) != 0 {
		t.Fatalf("consumed value = %#v, want empty and not nil", got[0].Value)
	}
}

func TestHeadersKeepOrderAndDuplicates(t *testing.T) {
	e := newEnv(t, "fhir")
	hs := []kgo.RecordHeader{{Key: "b", Value: []byte("1")}, {Key: "a", Value: []byte("2")}, {Key: "b", Value: []byte("3")}, {Key: "c"}}
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: hs})
	got, err := pollN(t, e.consumer("fhir"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0].Headers) != len(hs) {
		t.Fatalf("consumed %d headers, want %d", len(got[0].Headers), len(hs))
	}
	for i, h := range got[0].Headers {
		if h.Key != hs[i].Key || !bytes.Equal(h.Value, hs[i].Value) {
			t.Errorf("header %d = %s=%s, want %s=%s", i, h.Key, h.Value, hs[i].Key, hs[i].Value)
		}
	}
}

func TestProduceAlreadyEncrypted(t *testing.T) {
	e := newEnv(t, "fhir")
	r := &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: envelope.HeaderName, Value: []byte{1}}}}
	err := e.producer().ProduceSync(context.Background(), r).FirstErr()
	if !errors.Is(err, kafka.ErrAlreadyEncrypted) {
		t.Fatalf("ProduceSync(record with header) err = %v, want ErrAlreadyEncrypted", err)
	}
}

func TestProducePassThroughEncrypted(t *testing.T) {
	e := newEnv(t, "fhir", "fhir-copy")
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte("v")})
	stored := e.raw("fhir", 1)[0]
	fwd := &kgo.Record{Topic: "fhir", Key: stored.Key, Value: stored.Value, Headers: stored.Headers}
	produce(t, e.producer(kafka.PassThroughEncrypted()), fwd)
	got, err := pollN(t, e.consumer("fhir"), 2)
	if err != nil || string(got[1].Value) != "v" {
		t.Fatalf("forwarded record = %q, %v, want v", got[1].Value, err)
	}
}

func TestProduceTooLarge(t *testing.T) {
	e := newEnv(t, "fhir")
	counting := e.producer(kafka.MaxRecordBytes(1000))
	err := counting.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: make([]byte, 990)}).FirstErr()
	var tooLarge *kafka.RecordTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("ProduceSync(990 bytes, max 1000) err = %v, want RecordTooLargeError", err)
	}
	if tooLarge.PlainSize != 990 || tooLarge.EncryptedSize <= 1000 || tooLarge.Max != 1000 {
		t.Fatalf("RecordTooLargeError = %+v, want plain 990, encrypted above 1000, max 1000", tooLarge)
	}
	if msg := err.Error(); !strings.Contains(msg, "990") || !strings.Contains(msg, "1000") {
		t.Fatalf("error %q does not name both sizes", msg)
	}
}

func TestProduceNoTopic(t *testing.T) {
	e := newEnv(t, "fhir")
	err := e.producer().ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kafka.ErrNoTopic) {
		t.Fatalf("ProduceSync(no topic) err = %v, want ErrNoTopic", err)
	}
}

func TestProduceErrorIsTyped(t *testing.T) {
	e := newEnv(t, "fhir")
	err := e.producer().ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr()
	var re *kafka.RecordError
	if !errors.As(err, &re) || re.Op != "encrypt" || re.Partition != -1 {
		t.Fatalf("err = %#v, want *RecordError for encrypt with partition -1", err)
	}
}

func TestNewProducerUnknownKEK(t *testing.T) {
	e := newEnv(t, "fhir")
	if _, err := kafka.NewProducer(e.client(), e.ring, kafka.KEK("claims")); err == nil {
		t.Fatal("NewProducer(KEK not in ring) err = nil, want an error")
	}
}
