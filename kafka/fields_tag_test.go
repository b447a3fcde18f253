package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/kafka"
)

// withoutHeaders returns an edit for copyRaw that drops the headers with
// the given names.
func withoutHeaders(names ...string) func(*kgo.Record) {
	return func(r *kgo.Record) {
		r.Headers = slices.DeleteFunc(r.Headers, func(h kgo.RecordHeader) bool { return slices.Contains(names, h.Key) })
	}
}

// headerValue returns the value of the first header of r named name.
func headerValue(r *kgo.Record, name string) []byte {
	for _, h := range r.Headers {
		if h.Key == name {
			return h.Value
		}
	}
	return nil
}

// A null header value under EncryptHeaders stays null on the way in and
// is accepted on the way out. An empty one is sealed and comes back empty.
func TestEncryptHeadersNullValueBothSides(t *testing.T) {
	e := newEnv(t, "fhir")
	opt := kafka.EncryptHeaders("x-mrn")
	hs := []kgo.RecordHeader{{Key: "x-mrn", Value: []byte("MRN-1")}, {Key: "x-mrn", Value: nil}, {Key: "x-mrn", Value: []byte{}}}
	produce(t, e.producer(opt), &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: hs})
	stored := e.raw("fhir", 1)[0]
	if stored.Headers[1].Value != nil || !fields.HasMarker(stored.Headers[2].Value) {
		t.Errorf("stored x-mrn values = %q, %q; want null and sealed", stored.Headers[1].Value, stored.Headers[2].Value)
	}
	got, err := pollN(t, e.consumer("fhir", opt), 1)
	if err != nil {
		t.Fatalf("Poll(record whose x-mrn header is null) err = %v", err)
	}
	if len(got[0].Headers) != 3 {
		t.Fatalf("headers = %v, want the three x-mrn headers", got[0].Headers)
	}
	if got[0].Headers[1].Value != nil {
		t.Errorf("second x-mrn = %q, want null", got[0].Headers[1].Value)
	}
	if v := got[0].Headers[2].Value; v == nil || len(v) != 0 {
		t.Errorf("third x-mrn = %q (nil %v), want empty and not null", v, v == nil)
	}
}

// An empty (non-nil) key under SIV tokens comes back empty, not nil:
// Kafka treats a null key and an empty key differently.
func TestKeyTokensEmptyKey(t *testing.T) {
	e := newEnv(t, "fhir")
	opts := []kafka.RecordOpt{kafka.KeyTokens(sivTokens(t)), kafka.Fields(jsonCodec(t, "name"))}
	produce(t, e.producer(opts[0], opts[1]), &kgo.Record{Topic: "fhir", Key: []byte{}, Value: []byte(patientJSON)})
	got, err := pollN(t, e.consumer("fhir", opts[0], opts[1]), 1)
	if err != nil {
		t.Fatalf("Poll() err = %v", err)
	}
	if got[0].Key == nil || len(got[0].Key) != 0 {
		t.Errorf("consumed key = %q (nil %v), want an empty non-nil key", got[0].Key, got[0].Key == nil)
	}
}

// A connector that strips kenvelope's headers must not turn a record with
// sealed fields into an "unencrypted" one under AllowUnencrypted.
func TestFieldsStrippedDescriptor(t *testing.T) {
	cases := []struct {
		name  string
		strip []string
		want  error
	}{
		{"descriptor", []string{envelope.HeaderName}, kafka.ErrRecordTag},
		{"descriptor and tag", []string{envelope.HeaderName, envelope.TagHeaderName}, kafka.ErrFieldsWithoutDescriptor},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "fhir", "copy")
			codec := kafka.Fields(jsonCodec(t, "name", "birthDate"))
			produce(t, e.producer(codec), &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte(patientJSON)})
			copyRaw(t, e, e.raw("fhir", 1)[0], "copy", []byte("p1"), withoutHeaders(tc.strip...))
			err := decryptErr(t, e, "copy", codec, kafka.AllowUnencrypted())
			if !errors.Is(err, tc.want) {
				t.Errorf("Poll(record without %s) err = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

// A record without markers still passes as unencrypted under
// AllowUnencrypted, with Fields configured.
func TestFieldsUnencryptedAllowed(t *testing.T) {
	e := newEnv(t, "fhir")
	if err := e.client().ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte(patientJSON)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got, err := pollN(t, e.consumer("fhir", kafka.Fields(jsonCodec(t, "name")), kafka.AllowUnencrypted()), 1)
	if err != nil {
		t.Fatalf("Poll(plain record) err = %v", err)
	}
	if got[0].Encrypted || string(got[0].Value) != patientJSON {
		t.Errorf("Poll() = %s encrypted=%v, want the plain record, not encrypted", got[0].Value, got[0].Encrypted)
	}
}

// Each edit leaves every sealed field intact, so only the record tag can
// catch it.
func TestFieldsTagCatchesEdits(t *testing.T) {
	cases := []struct {
		name string
		edit func(r *kgo.Record, other *kgo.Record)
	}{
		{"clear field edited", func(r, _ *kgo.Record) {
			r.Value = bytes.Replace(r.Value, []byte(`"gender":"female"`), []byte(`"gender":"male"`), 1)
		}},
		{"optional sealed field deleted", func(r, _ *kgo.Record) {
			i := bytes.Index(r.Value, []byte(`,"birthDate":`))
			k := bytes.Index(r.Value, []byte(`,"gender"`))
			r.Value = append(r.Value[:i:i], r.Value[k:]...)
		}},
		{"value dropped", func(r, _ *kgo.Record) { r.Value = nil }},
		{"tag removed", func(r, _ *kgo.Record) { withoutHeaders(envelope.TagHeaderName)(r) }},
		{"tag duplicated", func(r, _ *kgo.Record) {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: envelope.TagHeaderName, Value: headerValue(r, envelope.TagHeaderName)})
		}},
		{"tag of another record", func(r, other *kgo.Record) {
			copy(headerValue(r, envelope.TagHeaderName), headerValue(other, envelope.TagHeaderName))
		}},
		{"field of another record", func(r, other *kgo.Record) {
			r.Value = bytes.Replace(r.Value, marked.FindAll(r.Value, -1)[1], marked.FindAll(other.Value, -1)[1], 1)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "fhir")
			sel, err := fields.NewSelection([]string{"name", "birthDate"}, fields.Optional("birthDate"))
			if err != nil {
				t.Fatal(err)
			}
			j, err := fields.NewJSON(sel)
			if err != nil {
				t.Fatal(err)
			}
			codec := kafka.Fields(j)
			// Two records of one producer, topic and null key share a DEK.
			other := bytes.Replace([]byte(patientJSON), []byte("1970-01-02"), []byte("1999-09-09"), 1)
			produce(t, e.producer(codec), &kgo.Record{Topic: "fhir", Value: []byte(patientJSON)}, &kgo.Record{Topic: "fhir", Value: other})
			stored := e.raw("fhir", 2)
			copyRaw(t, e, stored[0], "fhir", nil, func(r *kgo.Record) { tc.edit(r, stored[1]) })

			got, err := pollN(t, e.consumer("fhir", codec), 3)
			if len(got) != 2 {
				t.Errorf("Poll() returned %d records, want the two untouched ones", len(got))
			}
			if !errors.Is(err, kafka.ErrRecordTag) {
				t.Fatalf("Poll(%s) err = %v, want ErrRecordTag", tc.name, err)
			}
			var re *kafka.RecordError
			if !errors.As(err, &re) || re.Offset != 2 || re.KEKName != "patients" {
				t.Errorf("Poll() err = %v, want a *RecordError at offset 2 naming KEK patients", err)
			}
		})
	}
}

// A record mirrored to another topic verifies under TopicAlias, and fails
// without it as a binding mismatch.
func TestFieldsTagTopicAlias(t *testing.T) {
	e := newEnv(t, "fhir", "dr.fhir")
	codec := kafka.Fields(jsonCodec(t, "name"))
	produce(t, e.producer(codec), &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte(patientJSON)})
	copyRaw(t, e, e.raw("fhir", 1)[0], "dr.fhir", []byte("p1"), nil)
	got, err := pollN(t, e.consumer("dr.fhir", codec, kafka.TopicAlias("dr.fhir", "fhir")), 1)
	if err != nil || string(got[0].Value) != patientJSON {
		t.Fatalf("Poll(mirror with alias) = %v, %v; want the record", got, err)
	}
	err = decryptErr(t, e, "dr.fhir", codec)
	if !errors.Is(err, kafka.ErrRecordTag) || !errors.Is(err, envelope.ErrBindingMismatch) {
		t.Errorf("Poll(mirror without alias) err = %v, want ErrRecordTag wrapping ErrBindingMismatch", err)
	}
}

// A whole-value record with a sealed header is tagged too, so deleting the
// sealed header is caught, also by a consumer without header options.
func TestEncryptHeadersDeleted(t *testing.T) {
	e := newEnv(t, "fhir")
	hs := []kgo.RecordHeader{{Key: "x-mrn", Value: []byte("MRN-1")}, {Key: "trace", Value: []byte("t1")}}
	produce(t, e.producer(kafka.EncryptHeaders("x-mrn")), &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: hs})
	copyRaw(t, e, e.raw("fhir", 1)[0], "fhir", nil, withoutHeaders("x-mrn"))
	got, err := pollN(t, e.consumer("fhir"), 2)
	if len(got) != 1 {
		t.Errorf("Poll() returned %d records, want the untouched one only", len(got))
	}
	if !errors.Is(err, kafka.ErrRecordTag) {
		t.Errorf("Poll(sealed header deleted) err = %v, want ErrRecordTag", err)
	}
}

func TestProduceRejectsTagHeader(t *testing.T) {
	e := newEnv(t, "fhir")
	p := e.producer(kafka.Fields(jsonCodec(t, "name")))
	err := p.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte(patientJSON),
		Headers: []kgo.RecordHeader{{Key: envelope.TagHeaderName, Value: []byte("x")}}}).FirstErr()
	if !errors.Is(err, kafka.ErrRecordTag) {
		t.Errorf("ProduceSync(record with a tag header) err = %v, want ErrRecordTag", err)
	}
}
