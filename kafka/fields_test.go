package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/tokens"
)

const patientJSON = `{"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1970-01-02","gender":"female"}`

func jsonCodec(t *testing.T, paths ...string) *fields.JSON {
	t.Helper()
	sel, err := fields.NewSelection(paths)
	if err != nil {
		t.Fatal(err)
	}
	j, err := fields.NewJSON(sel)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func sivTokens(t *testing.T) *tokens.SIV {
	t.Helper()
	s, err := tokens.NewSIVFromKey(bytes.Repeat([]byte{5}, tokens.SIVKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var marked = regexp.MustCompile(`"kenv1:[A-Za-z0-9+/=]+"`)

func TestFieldsJSONRoundTrip(t *testing.T) {
	e := newEnv(t, "fhir")
	codec := kafka.Fields(jsonCodec(t, "name", "birthDate"))
	in := &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte(patientJSON),
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}}
	produce(t, e.producer(codec), in)
	if string(in.Value) != patientJSON {
		t.Errorf("record after produce = %s, want the caller's value back", in.Value)
	}

	stored := e.raw("fhir", 1)[0]
	want := `{"resourceType":"Patient","id":"p1","name":"X","birthDate":"X","gender":"female"}`
	if got := marked.ReplaceAllString(string(stored.Value), `"X"`); got != want {
		t.Errorf("stored value = %s, want (masked) %s", got, want)
	}
	if bytes.Contains(stored.Value, []byte("Doe")) || bytes.Contains(stored.Value, []byte("1970")) {
		t.Error("stored value contains a selected field in clear")
	}
	if n := len(stored.Headers); n != 3 || stored.Headers[1].Key != envelope.HeaderName || stored.Headers[2].Key != envelope.TagHeaderName {
		t.Fatalf("stored headers = %v, want trace, the descriptor and the tag", stored.Headers)
	}
	d, err := envelope.Parse(stored.Headers[1].Value)
	if err != nil || d.Payload != envelope.PayloadJSON {
		t.Errorf("stored descriptor payload = %v, err %v; want PayloadJSON", d.Payload, err)
	}
	if len(stored.Headers[2].Value) != envelope.TagSize {
		t.Errorf("stored tag is %d bytes, want %d", len(stored.Headers[2].Value), envelope.TagSize)
	}

	got, err := pollN(t, e.consumer("fhir", codec), 1)
	if err != nil {
		t.Fatalf("Poll() err = %v", err)
	}
	if string(got[0].Value) != patientJSON {
		t.Errorf("consumed value = %s, want %s", got[0].Value, patientJSON)
	}
	if len(got[0].Headers) != 1 || got[0].Headers[0].Key != "trace" {
		t.Errorf("consumed headers = %v, want only trace", got[0].Headers)
	}
}

func TestFieldsConsumerWithoutCodec(t *testing.T) {
	e := newEnv(t, "fhir")
	produce(t, e.producer(kafka.Fields(jsonCodec(t, "name"))), &kgo.Record{Topic: "fhir", Value: []byte(patientJSON)})
	err := decryptErr(t, e, "fhir")
	if !strings.Contains(err.Error(), "payload kind 2") {
		t.Errorf("Poll() err = %v, want a payload kind error", err)
	}
}

func TestFieldsInvalidRecord(t *testing.T) {
	e := newEnv(t, "fhir")
	p := e.producer(kafka.Fields(jsonCodec(t, "name")))
	err := p.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte(`{"name":`)}).FirstErr()
	var re *kafka.RecordError
	if !errors.As(err, &re) || re.Topic != "fhir" || !errors.Is(err, fields.ErrInvalidRecord) {
		t.Fatalf("ProduceSync(bad JSON) err = %v, want a *RecordError wrapping ErrInvalidRecord", err)
	}
	err = p.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte(`{"id":1}`)}).FirstErr()
	if !errors.Is(err, fields.ErrMissingField) || !strings.Contains(err.Error(), `"name"`) {
		t.Fatalf("ProduceSync(no name) err = %v, want ErrMissingField naming the path", err)
	}
}

// A consumer checks the record's tag before it opens any field, so a
// tampered marker fails as a tag that does not verify.
func TestFieldsTamperedMarker(t *testing.T) {
	e := newEnv(t, "fhir", "copy")
	codec := kafka.Fields(jsonCodec(t, "name", "birthDate"))
	produce(t, e.producer(codec), &kgo.Record{Topic: "fhir", Value: []byte(patientJSON)})
	stored := e.raw("fhir", 1)[0]
	copyRaw(t, e, stored, "copy", nil, func(r *kgo.Record) {
		r.Topic = "fhir"
		r.Value = marked.ReplaceAll(r.Value, []byte(`"kenv1:not*base64"`))
	})
	got, err := pollN(t, e.consumer("fhir", codec), 2)
	if len(got) != 1 {
		t.Errorf("Poll() returned %d records, want the untouched one only", len(got))
	}
	var re *kafka.RecordError
	if !errors.As(err, &re) || re.Topic != "fhir" || re.Partition != 0 || re.Offset != 1 {
		t.Fatalf("Poll() err = %v, want a *RecordError at fhir/0/1", err)
	}
	if !errors.Is(err, kafka.ErrRecordTag) || !errors.Is(err, envelope.ErrAuth) {
		t.Errorf("Poll() err = %v, want ErrRecordTag wrapping ErrAuth", err)
	}
}

func TestKeyTokensSIV(t *testing.T) {
	e := newEnv(t, "fhir")
	opts := []kafka.RecordOpt{kafka.KeyTokens(sivTokens(t)), kafka.Fields(jsonCodec(t, "name"))}
	p := e.producer(opts[0], opts[1])
	in := []*kgo.Record{
		{Topic: "fhir", Key: []byte("patient-1"), Value: []byte(patientJSON)},
		{Topic: "fhir", Key: []byte("patient-1"), Value: []byte(patientJSON)},
		{Topic: "fhir", Key: []byte("patient-1")}, // tombstone
		{Topic: "fhir", Key: nil, Value: []byte(patientJSON)},
	}
	produce(t, p, in...)
	if string(in[0].Key) != "patient-1" {
		t.Errorf("record key after produce = %q, want the caller's key back", in[0].Key)
	}
	stored := e.raw("fhir", len(in))
	if bytes.Contains(stored[0].Key, []byte("patient")) {
		t.Error("stored key contains the original key")
	}
	if !bytes.Equal(stored[0].Key, stored[1].Key) || !bytes.Equal(stored[0].Key, stored[2].Key) {
		t.Error("equal keys have different tokens")
	}
	if stored[2].Value != nil || len(stored[2].Headers) != 0 {
		t.Errorf("stored tombstone value = %q, headers %v; want nil, none", stored[2].Value, stored[2].Headers)
	}
	if stored[3].Key != nil {
		t.Errorf("stored nil key = %q, want nil", stored[3].Key)
	}

	got, err := pollN(t, e.consumer("fhir", opts[0], opts[1]), len(in))
	if err != nil {
		t.Fatalf("Poll() err = %v", err)
	}
	for i, r := range got {
		if !bytes.Equal(r.Key, in[i].Key) || (r.Key == nil) != (in[i].Key == nil) {
			t.Errorf("record %d key = %q, want %q", i, r.Key, in[i].Key)
		}
		if !bytes.Equal(r.Value, in[i].Value) {
			t.Errorf("record %d value = %s, want %s", i, r.Value, in[i].Value)
		}
	}
}

func TestKeyTokensHMAC(t *testing.T) {
	e := newEnv(t, "fhir")
	h, err := tokens.NewHMAC(bytes.Repeat([]byte{6}, 32))
	if err != nil {
		t.Fatal(err)
	}
	produce(t, e.producer(kafka.KeyTokens(h)), &kgo.Record{Topic: "fhir", Key: []byte("patient-1"), Value: []byte("v")})
	want, _ := h.Token([]byte("patient-1"))
	got, err := pollN(t, e.consumer("fhir", kafka.KeyTokens(h)), 1)
	if err != nil {
		t.Fatalf("Poll() err = %v", err)
	}
	if !bytes.Equal(got[0].Key, want) || string(got[0].Value) != "v" {
		t.Errorf("consumed key = %x, value %q; want the token and v", got[0].Key, got[0].Value)
	}
}

func TestEncryptHeaders(t *testing.T) {
	e := newEnv(t, "fhir")
	hs := []kgo.RecordHeader{
		{Key: "x-mrn", Value: []byte("MRN-1")},
		{Key: "trace", Value: []byte("t1")},
		{Key: "x-mrn", Value: []byte("MRN-2")},
		{Key: "x-mrn", Value: nil},
	}
	produce(t, e.producer(kafka.EncryptHeaders("x-mrn")), &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: hs})
	stored := e.raw("fhir", 1)[0]
	if len(stored.Headers) != 6 {
		t.Fatalf("stored %d headers, want 6: four, the descriptor and the tag", len(stored.Headers))
	}
	if stored.Headers[4].Key != envelope.HeaderName || stored.Headers[5].Key != envelope.TagHeaderName {
		t.Errorf("stored headers 4 and 5 = %q, %q; want the descriptor and the tag", stored.Headers[4].Key, stored.Headers[5].Key)
	}
	for i, h := range stored.Headers[:4] {
		if h.Key != hs[i].Key {
			t.Errorf("stored header %d = %q, want %q", i, h.Key, hs[i].Key)
		}
	}
	if !fields.HasMarker(stored.Headers[0].Value) || !fields.HasMarker(stored.Headers[2].Value) {
		t.Error("selected header stored in clear")
	}
	if string(stored.Headers[1].Value) != "t1" || stored.Headers[3].Value != nil {
		t.Errorf("other headers changed: %q, %q", stored.Headers[1].Value, stored.Headers[3].Value)
	}

	// A consumer without the option still opens every sealed header.
	got, err := pollN(t, e.consumer("fhir"), 1)
	if err != nil {
		t.Fatalf("Poll() err = %v", err)
	}
	for i, h := range got[0].Headers {
		if h.Key != hs[i].Key || !bytes.Equal(h.Value, hs[i].Value) {
			t.Errorf("header %d = %q=%q, want %q=%q", i, h.Key, h.Value, hs[i].Key, hs[i].Value)
		}
	}
}

func TestEncryptHeadersSwapped(t *testing.T) {
	e := newEnv(t, "fhir", "copy")
	hs := []kgo.RecordHeader{{Key: "x-mrn", Value: []byte("MRN-1")}, {Key: "x-mrn", Value: []byte("MRN-2")}}
	produce(t, e.producer(kafka.EncryptHeaders("x-mrn")), &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: hs})
	stored := e.raw("fhir", 1)[0]
	copyRaw(t, e, stored, "copy", nil, func(r *kgo.Record) {
		r.Topic = "fhir"
		r.Headers[0].Value, r.Headers[1].Value = r.Headers[1].Value, r.Headers[0].Value
	})
	got, err := pollN(t, e.consumer("fhir", kafka.EncryptHeaders("x-mrn")), 2)
	if len(got) != 1 {
		t.Errorf("Poll() returned %d records, want the first one only", len(got))
	}
	// The tag covers the sealed headers in order, so it fails first.
	if !errors.Is(err, kafka.ErrRecordTag) || !errors.Is(err, envelope.ErrAuth) {
		t.Errorf("Poll(swapped headers) err = %v, want ErrRecordTag wrapping ErrAuth", err)
	}
}

func TestEncryptHeadersTombstone(t *testing.T) {
	e := newEnv(t, "fhir")
	opts := []kafka.RecordOpt{kafka.EncryptHeaders("x-mrn"), kafka.KeyTokens(sivTokens(t))}
	in := &kgo.Record{Topic: "fhir", Key: []byte("k"), Headers: []kgo.RecordHeader{{Key: "x-mrn", Value: []byte("MRN-1")}}}
	produce(t, e.producer(opts[0], opts[1]), in)
	stored := e.raw("fhir", 1)[0]
	if stored.Value != nil || !fields.HasMarker(stored.Headers[0].Value) {
		t.Fatalf("stored tombstone value %q, header %q; want nil and sealed", stored.Value, stored.Headers[0].Value)
	}
	got, err := pollN(t, e.consumer("fhir", opts[0], opts[1]), 1)
	if err != nil {
		t.Fatalf("Poll() err = %v", err)
	}
	if got[0].Value != nil || string(got[0].Key) != "k" || string(got[0].Headers[0].Value) != "MRN-1" {
		t.Errorf("consumed tombstone = key %q value %q headers %v", got[0].Key, got[0].Value, got[0].Headers)
	}
}

func TestEncryptHeadersMarkerInClear(t *testing.T) {
	e := newEnv(t, "fhir")
	p := e.producer(kafka.EncryptHeaders("x-mrn"))
	err := p.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "other", Value: []byte(fields.Marker + "abc")}}}).FirstErr()
	if !errors.Is(err, fields.ErrMarkerInClear) {
		t.Errorf("ProduceSync() err = %v, want ErrMarkerInClear", err)
	}
}
