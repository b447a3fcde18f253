package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// subjectFieldsEnv is an env whose rings share one MemoryStore, with a
// producer that seals JSON fields and the x-mrn header under subject keys
// taken from the record key.
type subjectFieldsEnv struct {
	*env
	ring  *keyring.Ring // the producer's
	store *keyring.MemoryStore
	codec kafka.RecordOpt
}

func newSubjectFieldsEnv(t *testing.T) *subjectFieldsEnv {
	t.Helper()
	e := &subjectFieldsEnv{env: newEnv(t, "fhir"), store: keyring.NewMemoryStore(), codec: kafka.Fields(jsonCodec(t, "name", "birthDate"))}
	e.ring = e.subjectRing()
	return e
}

func (e *subjectFieldsEnv) subjectRing() *keyring.Ring {
	e.t.Helper()
	r, err := keyring.New([]kms.KEK{e.kek}, keyring.WithKeyStore(e.store))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(r.Close)
	return r
}

func (e *subjectFieldsEnv) produce(patients ...string) {
	e.t.Helper()
	p, err := kafka.NewProducer(e.client(), e.ring, kafka.KEK("patients"), kafka.SubjectKey(), e.codec, kafka.EncryptHeaders("x-mrn"))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, id := range patients {
		produce(e.t, p, &kgo.Record{Topic: "fhir", Key: []byte(id), Value: []byte(patientJSON),
			Headers: []kgo.RecordHeader{{Key: "x-mrn", Value: []byte("MRN-" + id)}}})
	}
}

// consume reads n records of fhir with a consumer on its own ring and
// returns the values and the decryption errors by offset.
func (e *subjectFieldsEnv) consume(n int) (map[int64]kafka.Record, map[int64]error) {
	e.t.Helper()
	got, failed := map[int64]kafka.Record{}, map[int64]error{}
	cl := e.client(kgo.ConsumeTopics("fhir"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	c, err := kafka.NewConsumer(cl, e.subjectRing(), e.codec,
		kafka.OnDecryptError(kafka.Skip(func(raw *kgo.Record, err error) { failed[raw.Offset] = err })))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(got)+len(failed) < n {
		rs, err := c.Poll(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("consumed %d of %d records: %v", len(got)+len(failed), n, err)
		}
		for _, rec := range rs {
			got[rec.Offset] = rec
		}
	}
	return got, failed
}

// descriptor returns the parsed descriptor of a stored record.
func descriptor(t *testing.T, r *kgo.Record) envelope.Descriptor {
	t.Helper()
	for _, h := range r.Headers {
		if h.Key == envelope.HeaderName {
			d, err := envelope.Parse(h.Value)
			if err != nil {
				t.Fatalf("Parse(stored descriptor) err = %v", err)
			}
			return d
		}
	}
	t.Fatal("stored record has no descriptor header")
	return envelope.Descriptor{}
}

func TestFieldsSubjectRoundTrip(t *testing.T) {
	e := newSubjectFieldsEnv(t)
	e.produce("p1", "p2", "p1")
	stored := e.raw("fhir", 3)
	ids := make([][]byte, len(stored))
	for i, r := range stored {
		d := descriptor(t, r)
		if d.Scope != envelope.ScopeSubject || d.Payload != envelope.PayloadJSON || len(d.KeyRef) == 0 {
			t.Fatalf("stored descriptor %d = scope %v payload %v id %x, want subject scope, PayloadJSON and a DEK id", i, d.Scope, d.Payload, d.KeyRef)
		}
		ids[i] = d.KeyRef
		if bytes.Contains(r.Value, []byte("Doe")) || bytes.Contains(r.Headers[0].Value, []byte("MRN")) {
			t.Errorf("stored record %d has a sealed field or header in clear", i)
		}
	}
	if !bytes.Equal(ids[0], ids[2]) || bytes.Equal(ids[0], ids[1]) {
		t.Errorf("DEK ids = %x, want one per subject", ids)
	}

	got, failed := e.consume(3)
	if len(failed) != 0 {
		t.Fatalf("Poll() errors = %v, want none", failed)
	}
	for off, rec := range got {
		mrn := "MRN-" + string(rec.Key)
		if string(rec.Value) != patientJSON || len(rec.Headers) != 1 || string(rec.Headers[0].Value) != mrn {
			t.Errorf("record %d = %s, headers %q; want the produced value and %s", off, rec.Value, rec.Headers, mrn)
		}
	}
}

func TestFieldsSubjectShredded(t *testing.T) {
	e := newSubjectFieldsEnv(t)
	e.produce("p1", "p2")
	id := descriptor(t, e.raw("fhir", 1)[0]).KeyRef
	if _, err := e.ring.Shred(context.Background(), []byte("p1")); err != nil {
		t.Fatalf("Shred(p1) err = %v", err)
	}

	got, failed := e.consume(2)
	var re *kafka.RecordError
	if err := failed[0]; !errors.As(err, &re) || !errors.Is(err, keyring.ErrShredded) {
		t.Fatalf("record 0 err = %v, want a *RecordError wrapping ErrShredded", err)
	}
	if want := fmt.Sprintf("%x", id); re.DEKID != want || re.Offset != 0 || re.KEKName != "patients" {
		t.Errorf("RecordError = DEKID %q offset %d KEK %q, want %q, 0, patients", re.DEKID, re.Offset, re.KEKName, want)
	}
	if rec, ok := got[1]; !ok || string(rec.Value) != patientJSON {
		t.Errorf("record 1 (p2) = %q, %v; want it decrypted", rec.Value, failed[1])
	}
}

// The tag is made with the subject DEK and still covers the clear fields.
func TestFieldsSubjectEditedClearField(t *testing.T) {
	e := newSubjectFieldsEnv(t)
	e.produce("p1")
	stored := e.raw("fhir", 1)[0]
	copyRaw(t, e.env, stored, "fhir", stored.Key, func(r *kgo.Record) {
		r.Value = bytes.Replace(r.Value, []byte(`"female"`), []byte(`"male"`), 1)
	})

	got, failed := e.consume(2)
	if rec, ok := got[0]; !ok || string(rec.Value) != patientJSON {
		t.Errorf("record 0 = %q, %v; want the untouched record decrypted", rec.Value, failed[0])
	}
	if err := failed[1]; !errors.Is(err, kafka.ErrRecordTag) || !errors.Is(err, envelope.ErrAuth) {
		t.Errorf("record 1 err = %v, want ErrRecordTag wrapping ErrAuth", err)
	}
}

// A subject function that finds no subject fails the record before
// anything is sealed, as for whole-value records.
func TestFieldsSubjectMissing(t *testing.T) {
	e := newSubjectFieldsEnv(t)
	p, err := kafka.NewProducer(e.client(), e.ring, kafka.KEK("patients"), kafka.SubjectKey(), e.codec)
	if err != nil {
		t.Fatal(err)
	}
	err = p.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte(patientJSON)}).FirstErr()
	if !errors.Is(err, kafka.ErrNoSubject) {
		t.Errorf("ProduceSync(no key) err = %v, want ErrNoSubject", err)
	}
}
