package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
)

// copyRaw produces stored records again, byte for byte, to topic with key,
// as a mirroring tool or an attacker with broker access could.
func copyRaw(t *testing.T, e *env, stored *kgo.Record, topic string, key []byte, edit func(*kgo.Record)) {
	t.Helper()
	r := &kgo.Record{Topic: topic, Key: key, Value: bytes.Clone(stored.Value)}
	for _, h := range stored.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	if edit != nil {
		edit(r)
	}
	if err := e.client().ProduceSync(context.Background(), r).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func decryptErr(t *testing.T, e *env, topic string, opts ...kafka.ConsumerOpt) error {
	t.Helper()
	got, err := pollN(t, e.consumer(topic, opts...), 1)
	if err == nil {
		t.Fatalf("Poll() returned %q, want a decryption error", got[0].Value)
	}
	if len(got) != 0 {
		t.Fatalf("Poll() returned %d records with the error, want none", len(got))
	}
	return err
}

func TestConsumeBindingMismatch(t *testing.T) {
	cases := []struct {
		name     string
		key      []byte
		copyKey  []byte
		topic    string
		copyInto string
	}{
		{"other topic", []byte("p1"), []byte("p1"), "fhir", "copy"},
		{"other key", []byte("p1"), []byte("p2"), "fhir", "copy-key"},
		{"nil key to empty key", nil, []byte{}, "fhir", "copy-empty"},
		{"empty key to nil key", []byte{}, nil, "fhir", "copy-nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.topic, tc.copyInto)
			produce(t, e.producer(), &kgo.Record{Topic: tc.topic, Key: tc.key, Value: []byte("lab result")})
			copyRaw(t, e, e.raw(tc.topic, 1)[0], tc.copyInto, tc.copyKey, nil)
			err := decryptErr(t, e, tc.copyInto)
			if !errors.Is(err, envelope.ErrBindingMismatch) {
				t.Fatalf("Poll(copied record) err = %v, want ErrBindingMismatch", err)
			}
			var re *kafka.RecordError
			if !errors.As(err, &re) || re.Topic != tc.copyInto || re.Offset != 0 || re.KEKName != "patients" || re.KEKVersion != 1 {
				t.Fatalf("err = %v, want RecordError naming topic %s, offset 0, KEK patients v1", err, tc.copyInto)
			}
		})
	}
}

func TestConsumeMirroredTopicAlias(t *testing.T) {
	e := newEnv(t, "fhir", "dr.fhir")
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte("v")})
	copyRaw(t, e, e.raw("fhir", 1)[0], "dr.fhir", []byte("p1"), nil)
	got, err := pollN(t, e.consumer("dr.fhir", kafka.TopicAlias("dr.fhir", "fhir")), 1)
	if err != nil || string(got[0].Value) != "v" {
		t.Fatalf("Poll(mirror with alias) = %v, %v, want v", got, err)
	}
}

func TestConsumeTampered(t *testing.T) {
	cases := []struct {
		name string
		edit func(*kgo.Record)
		want error
	}{
		{"value byte", func(r *kgo.Record) { r.Value[len(r.Value)/2] ^= 1 }, envelope.ErrAuth},
		{"value truncated", func(r *kgo.Record) { r.Value = r.Value[:10] }, envelope.ErrShortValue},
		{"descriptor kek version", func(r *kgo.Record) { r.Headers[0].Value[len(r.Headers[0].Value)-1] ^= 1 }, nil},
		{"descriptor truncated", func(r *kgo.Record) { r.Headers[0].Value = r.Headers[0].Value[:5] }, envelope.ErrInvalidDescriptor},
		{"descriptor unknown version", func(r *kgo.Record) { r.Headers[0].Value[0] = 9 }, envelope.ErrUnsupportedVersion},
		{"header duplicated", func(r *kgo.Record) { r.Headers = append(r.Headers, r.Headers[0]) }, kafka.ErrDuplicateHeader},
		{"header removed", func(r *kgo.Record) { r.Headers = nil }, kafka.ErrNotEncrypted},
		{"header renamed", func(r *kgo.Record) { r.Headers[0].Key = "kenvelope2" }, kafka.ErrNotEncrypted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "fhir", "tampered")
			produce(t, e.producer(), &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte("lab result 7")})
			copyRaw(t, e, e.raw("fhir", 1)[0], "tampered", []byte("p1"), func(r *kgo.Record) { r.Topic = "tampered" })
			copyRaw(t, e, e.raw("fhir", 1)[0], "fhir", []byte("p1"), tc.edit)
			// The untouched original is offset 0; the tampered copy offset 1.
			c := e.consumer("fhir")
			got, err := pollN(t, c, 2)
			if err == nil {
				t.Fatalf("Poll(tampered) returned %d records and no error", len(got))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Poll(tampered) err = %v, want %v", err, tc.want)
			}
			for _, r := range got {
				if r.Offset == 1 {
					t.Fatal("Poll returned the tampered record")
				}
			}
		})
	}
}

func TestConsumeUnencryptedRejectedByDefault(t *testing.T) {
	e := newEnv(t, "fhir")
	if err := e.client().ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := decryptErr(t, e, "fhir"); !errors.Is(err, kafka.ErrNotEncrypted) {
		t.Fatalf("Poll(plain record) err = %v, want ErrNotEncrypted", err)
	}
}

func TestConsumeUnencryptedAllowedIsMarked(t *testing.T) {
	e := newEnv(t, "fhir")
	if err := e.client().ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Value: []byte("secret")})
	got, err := pollN(t, e.consumer("fhir", kafka.AllowUnencrypted()), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Encrypted || string(got[0].Value) != "plain" {
		t.Errorf("plain record = %q encrypted=%v, want plain, false", got[0].Value, got[0].Encrypted)
	}
	if !got[1].Encrypted || string(got[1].Value) != "secret" {
		t.Errorf("encrypted record = %q encrypted=%v, want secret, true", got[1].Value, got[1].Encrypted)
	}
}

func TestConsumeUnknownKEK(t *testing.T) {
	e := newEnv(t, "fhir")
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Value: []byte("v")})
	cl := e.client(kgo.ConsumeTopics("fhir"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ring := newRingNamed(t, "claims")
	c, err := kafka.NewConsumer(cl, ring)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pollN(t, c, 1)
	if !errors.Is(err, keyring.ErrUnknownKEK) {
		t.Fatalf("Poll(record under unknown KEK) err = %v, want ErrUnknownKEK", err)
	}
}

func TestFailPolicyKeepsRecord(t *testing.T) {
	e := newEnv(t, "fhir")
	p := e.producer()
	produce(t, p, &kgo.Record{Topic: "fhir", Value: []byte("one")})
	if err := e.client().ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produce(t, p, &kgo.Record{Topic: "fhir", Value: []byte("three")})
	c := e.consumer("fhir")
	got, err := pollN(t, c, 3)
	if !errors.Is(err, kafka.ErrNotEncrypted) || len(got) != 1 || string(got[0].Value) != "one" {
		t.Fatalf("first Poll = %d records, %v, want [one], ErrNotEncrypted", len(got), err)
	}
	got, err = c.Poll(context.Background())
	var re *kafka.RecordError
	if !errors.As(err, &re) || re.Offset != 1 || len(got) != 0 {
		t.Fatalf("second Poll = %d records, %v, want the same record (offset 1) failing again", len(got), err)
	}
}

func TestSkipPolicy(t *testing.T) {
	e := newEnv(t, "fhir")
	if err := e.client().ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Value: []byte("two")})
	var skipped []int64
	c := e.consumer("fhir", kafka.OnDecryptError(kafka.Skip(func(raw *kgo.Record, err error) {
		if !errors.Is(err, kafka.ErrNotEncrypted) {
			t.Errorf("skip callback err = %v, want ErrNotEncrypted", err)
		}
		skipped = append(skipped, raw.Offset)
	})))
	got, err := pollN(t, c, 1)
	if err != nil || len(got) != 1 || string(got[0].Value) != "two" {
		t.Fatalf("Poll = %v, %v, want [two]", got, err)
	}
	if len(skipped) != 1 || skipped[0] != 0 {
		t.Fatalf("skipped offsets = %v, want [0]", skipped)
	}
}

func TestDeadLetterPolicy(t *testing.T) {
	e := newEnv(t, "fhir", "copy", "fhir.dlq")
	produce(t, e.producer(), &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte("v")})
	stored := e.raw("fhir", 1)[0]
	copyRaw(t, e, stored, "copy", []byte("p1"), nil)
	produce(t, e.producer(), &kgo.Record{Topic: "copy", Key: []byte("p1"), Value: []byte("good")})

	c := e.consumer("copy", kafka.OnDecryptError(kafka.DeadLetter("fhir.dlq")))
	got, err := pollN(t, c, 1)
	if err != nil || string(got[0].Value) != "good" {
		t.Fatalf("Poll = %v, %v, want [good]", got, err)
	}
	dl := e.raw("fhir.dlq", 1)[0]
	if !bytes.Equal(dl.Value, stored.Value) {
		t.Fatal("dead-letter value differs from the raw ciphertext")
	}
	want := map[string]string{"kenvelope-dlq-topic": "copy", "kenvelope-dlq-offset": "0", "kenvelope-dlq-reason": "binding-mismatch"}
	for _, h := range dl.Headers {
		if w, ok := want[h.Key]; ok && string(h.Value) != w {
			t.Errorf("dead-letter header %s = %q, want %q", h.Key, h.Value, w)
		}
		delete(want, h.Key)
	}
	if len(want) != 0 {
		t.Errorf("dead-letter record lacks headers %v", want)
	}
}
