package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/keyring/kafkastore"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// subjectEnv is a kfake cluster whose processes share a key store topic.
type subjectEnv struct {
	t       *testing.T
	cluster *kfake.Cluster
	opts    []kgo.Opt
}

func newSubjectEnv(t *testing.T, topics ...string) *subjectEnv {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &subjectEnv{t: t, cluster: c, opts: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}}
}

// ring returns the keyring of one process, with its own store reader.
func (e *subjectEnv) ring() *keyring.Ring {
	e.t.Helper()
	store, err := kafkastore.Open(context.Background(), "kenvelope.keys", e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(store.Close)
	kek, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{3}, 32))
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := keyring.New([]kms.KEK{kek}, keyring.WithKeyStore(store))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(r.Close)
	return r
}

func (e *subjectEnv) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), e.opts...), opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

func (e *subjectEnv) producer(r *keyring.Ring) *kafka.Producer {
	e.t.Helper()
	p, err := kafka.NewProducer(e.client(), r, kafka.KEK("patients"), kafka.SubjectKey())
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// consumeAll reads n records of topic with a new consumer on r and returns
// the plaintexts by offset and the decryption errors by offset.
func (e *subjectEnv) consumeAll(r *keyring.Ring, topic string, n int) (map[int64]string, map[int64]error) {
	e.t.Helper()
	got, failed := map[int64]string{}, map[int64]error{}
	c, err := kafka.NewConsumer(e.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())), r,
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
			got[rec.Offset] = string(rec.Value)
		}
	}
	return got, failed
}

func producePatients(t *testing.T, p *kafka.Producer, topic string, patients []string, perPatient int) {
	t.Helper()
	for i := 0; i < perPatient; i++ {
		for _, id := range patients {
			produce(t, p, &kgo.Record{Topic: topic, Key: []byte(id), Value: []byte("obs " + id)})
		}
	}
}

func TestPurgeSubject(t *testing.T) {
	e := newSubjectEnv(t, "fhir")
	producerRing, consumerRing := e.ring(), e.ring()
	p := e.producer(producerRing)
	patients := []string{"Patient/1", "Patient/2", "Patient/3"}
	producePatients(t, p, "fhir", patients, 4)

	evidence := filepath.Join(t.TempDir(), "evidence.jsonl")
	purger, err := kafka.NewPurger(e.ring(), e.opts, kafka.EvidenceFile(evidence))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := purger.Purge(context.Background(), kafka.PurgeRequest{Subject: []byte("Patient/2"), Topics: []string{"fhir"},
		RequestedBy: "dpo@example.org", ApprovedBy: "ciso@example.org", Reason: "ticket 42"})
	if err != nil {
		t.Fatalf("Purge() err = %v", err)
	}
	v := ev.Verification
	if v.Records != 12 || v.Matched != 4 || !v.Verified() || len(ev.DEKIDs) != 1 {
		t.Fatalf("verification = %+v, DEK ids %v, want 12 records, 4 matched, none decrypting, 1 DEK", v, ev.DEKIDs)
	}
	if v.Compaction != "pending" || len(v.StoreResidue) != 1 {
		t.Fatalf("compaction = %s, residue %v, want pending with the shredded id", v.Compaction, v.StoreResidue)
	}

	got, failed := e.consumeAll(consumerRing, "fhir", 12)
	if len(got) != 8 || len(failed) != 4 {
		t.Fatalf("consumed %d and failed %d records, want 8 and 4", len(got), len(failed))
	}
	for off, val := range got {
		if val == "obs Patient/2" {
			t.Errorf("record at offset %d of the purged subject decrypted", off)
		}
	}
	for off, err := range failed {
		var re *kafka.RecordError
		if !errors.Is(err, keyring.ErrShredded) || !errors.As(err, &re) || re.DEKID != ev.DEKIDs[0] || re.Offset != off {
			t.Errorf("offset %d err = %v, want RecordError with ErrShredded for DEK %s", off, err, ev.DEKIDs[0])
		}
		if strings.Contains(err.Error(), "Patient/2") {
			t.Errorf("error %q names the subject", err)
		}
	}

	err = p.ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Key: []byte("Patient/2"), Value: []byte("new")}).FirstErr()
	if !errors.Is(err, keyring.ErrQuarantined) {
		t.Fatalf("produce for the purged subject err = %v, want ErrQuarantined", err)
	}
	raw, err := os.ReadFile(evidence)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("Patient/2")) {
		t.Fatal("evidence file contains the subject identifier")
	}
}

func TestPurgeEvidenceChain(t *testing.T) {
	e := newSubjectEnv(t, "fhir")
	r := e.ring()
	producePatients(t, e.producer(r), "fhir", []string{"a", "b", "c"}, 1)
	path := filepath.Join(t.TempDir(), "evidence.jsonl")
	purger, err := kafka.NewPurger(r, e.opts, kafka.EvidenceFile(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b"} {
		if _, err := purger.Purge(context.Background(), kafka.PurgeRequest{Subject: []byte(s), Topics: []string{"fhir"},
			RequestedBy: "alice", ApprovedBy: "bob", Release: true}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := kafka.VerifyEvidence(bytes.NewReader(raw))
	if err != nil || n != 2 {
		t.Fatalf("VerifyEvidence() = %d, %v, want 2 documents", n, err)
	}
	tampered := bytes.Replace(raw, []byte(`"approved_by":"bob"`), []byte(`"approved_by":"eve"`), 1)
	if _, _, err := kafka.VerifyEvidence(bytes.NewReader(tampered)); !errors.Is(err, kafka.ErrEvidenceChain) {
		t.Fatalf("VerifyEvidence(altered approver) err = %v, want ErrEvidenceChain", err)
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	if _, _, err := kafka.VerifyEvidence(bytes.NewReader(lines[1])); !errors.Is(err, kafka.ErrEvidenceChain) {
		t.Fatalf("VerifyEvidence(first document removed) err = %v, want ErrEvidenceChain", err)
	}
	// Release lifted the quarantine: the subject produces under a new DEK.
	produce(t, e.producer(r), &kgo.Record{Topic: "fhir", Key: []byte("a"), Value: []byte("again")})
}

func TestPurgeRequestValidation(t *testing.T) {
	e := newSubjectEnv(t, "fhir")
	purger, err := kafka.NewPurger(e.ring(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  kafka.PurgeRequest
	}{
		{"no scope", kafka.PurgeRequest{Topics: []string{"fhir"}, RequestedBy: "a", ApprovedBy: "b"}},
		{"both scopes", kafka.PurgeRequest{Subject: []byte("s"), Before: time.Now(), Topics: []string{"fhir"}, RequestedBy: "a", ApprovedBy: "b"}},
		{"no approver", kafka.PurgeRequest{Subject: []byte("s"), Topics: []string{"fhir"}, RequestedBy: "a"}},
		{"self approved", kafka.PurgeRequest{Subject: []byte("s"), Topics: []string{"fhir"}, RequestedBy: "a", ApprovedBy: "a"}},
		{"no topics", kafka.PurgeRequest{Subject: []byte("s"), RequestedBy: "a", ApprovedBy: "b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := purger.Purge(context.Background(), tc.req); err == nil {
				t.Fatal("Purge() err = nil, want a validation error")
			}
		})
	}
}

func TestPurgeRetentionWithDeleteRecords(t *testing.T) {
	e := newSubjectEnv(t, "fhir")
	store, err := kafkastore.Open(context.Background(), "kenvelope.keys", e.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	kek, _ := keyfile.FromBytes("patients", bytes.Repeat([]byte{3}, 32))
	r, err := keyring.New([]kms.KEK{kek}, keyring.WithKeyStore(store), keyring.MaxRecords(2))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Two records per DEK: records 0-1 use generation 1, 2-3 generation 2,
	// 4 generation 3.
	producePatients(t, e.producer(r), "fhir", []string{"p"}, 5)
	purger, err := kafka.NewPurger(r, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := purger.Purge(context.Background(), kafka.PurgeRequest{Before: time.Now().Add(time.Second), Topics: []string{"fhir"},
		DeleteRecords: map[string]map[int32]int64{"fhir": {0: 2}}, RequestedBy: "a", ApprovedBy: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Scope != "retention" || len(ev.DEKIDs) != 2 || len(ev.Deleted) != 1 || ev.Deleted[0].LowWatermark != 2 {
		t.Fatalf("evidence = scope %s, %d DEKs, deleted %+v, want retention, 2 DEKs, low watermark 2", ev.Scope, len(ev.DEKIDs), ev.Deleted)
	}
	if v := ev.Verification; v.Records != 3 || v.Matched != 2 || !v.Verified() {
		t.Fatalf("verification = %+v, want 3 records left, 2 of a shredded generation, none decrypting", v)
	}
}

func TestProduceSubjectMissing(t *testing.T) {
	e := newSubjectEnv(t, "fhir")
	err := e.producer(e.ring()).ProduceSync(context.Background(), &kgo.Record{Topic: "fhir", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kafka.ErrNoSubject) {
		t.Fatalf("ProduceSync(record without key) err = %v, want ErrNoSubject", err)
	}
}
