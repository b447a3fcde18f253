package kafka_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/keyring/kafkastore"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

const purgedMRN = "MRN-ZX-88412377"

// purgeLog is a log buffer safe for concurrent writers.
type purgeLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *purgeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *purgeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// purgeWrapHook calls fn before the first Wrap of a subject DEK. It is a
// test double only to place a KMS round trip at a chosen moment.
type purgeWrapHook struct {
	kms.KEK
	mu sync.Mutex
	fn func()
}

func (w *purgeWrapHook) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if ec["kenvelope"] == "subject-dek" {
		w.mu.Lock()
		fn := w.fn
		w.fn = nil
		w.mu.Unlock()
		if fn != nil {
			fn()
		}
	}
	return w.KEK.Wrap(ctx, dek, ec)
}

func purgeKEK(t *testing.T) kms.KEK {
	t.Helper()
	k, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// loggedRing returns the keyring of one process whose store and ring log
// to logs. A nil kek selects purgeKEK.
func (e *subjectEnv) loggedRing(kek kms.KEK, logs *purgeLog, opts ...keyring.Opt) *keyring.Ring {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, err := kafkastore.Open(context.Background(), "kenvelope.keys", e.opts, kafkastore.WithLogger(log))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(store.Close)
	if kek == nil {
		kek = purgeKEK(e.t)
	}
	r, err := keyring.New([]kms.KEK{kek}, append([]keyring.Opt{keyring.WithKeyStore(store), keyring.WithLogger(log)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(r.Close)
	return r
}

// subjectOfValue takes the subject from the value's first word, so the
// record key carries no identifier and any occurrence found is a leak.
func subjectOfValue(r *kgo.Record) ([]byte, error) {
	s, _, _ := strings.Cut(string(r.Value), " ")
	return []byte(s), nil
}

// A producer wraps the subject's next DEK while the Purger quarantines
// and shreds. The purge must not report verified while a record of the
// subject still decrypts: the producer's record fails with ErrQuarantined.
func TestPurgeRacesNewGeneration(t *testing.T) {
	ctx := context.Background()
	e := newSubjectEnv(t, "fhir")
	var logs purgeLog
	hk := &purgeWrapHook{KEK: purgeKEK(t)}
	p, err := kafka.NewProducer(e.client(), e.loggedRing(hk, &logs, keyring.MaxRecords(1)), kafka.KEK("patients"),
		kafka.SubjectFunc(subjectOfValue))
	if err != nil {
		t.Fatal(err)
	}
	produce(t, p, &kgo.Record{Topic: "fhir", Key: []byte("a"), Value: []byte(purgedMRN + " one")})

	purger, err := kafka.NewPurger(e.loggedRing(nil, &logs), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	var ev *kafka.Evidence
	hk.fn = func() {
		var err error
		ev, err = purger.Purge(ctx, kafka.PurgeRequest{Subject: []byte(purgedMRN), Topics: []string{"fhir"},
			RequestedBy: "dpo@example.org", ApprovedBy: "ciso@example.org"})
		if err != nil {
			t.Errorf("Purge() err = %v", err)
		}
	}
	err = p.ProduceSync(ctx, &kgo.Record{Topic: "fhir", Key: []byte("b"), Value: []byte(purgedMRN + " two")}).FirstErr()
	if ev == nil {
		t.Fatal("the purge did not run")
	}

	if !errors.Is(err, keyring.ErrQuarantined) {
		t.Errorf("produce during the purge err = %v, want ErrQuarantined", err)
	}
	if s := ev.Verification.Subject; !ev.Verification.Verified() || s == nil || len(s.LiveDEKIDs) != 0 || !s.Quarantined {
		t.Errorf("verification = %+v, want verified with no live DEK and the subject quarantined", ev.Verification)
	}
	n := 2
	if err != nil {
		n = 1
	}
	got, _ := e.consumeAll(e.loggedRing(nil, &logs), "fhir", n)
	for off, v := range got {
		if strings.HasPrefix(v, purgedMRN) {
			t.Errorf("after a verified purge, the subject's record at offset %d decrypts", off)
		}
	}
}

func TestVerificationNeedsSubjectGone(t *testing.T) {
	cases := []struct {
		name string
		v    kafka.Verification
		want bool
	}{
		{"retention", kafka.Verification{}, true},
		{"subject gone", kafka.Verification{Subject: &kafka.SubjectCheck{LiveDEKIDs: []string{}, Quarantined: true}}, true},
		{"DEK left", kafka.Verification{Subject: &kafka.SubjectCheck{LiveDEKIDs: []string{"00"}, Quarantined: true}}, false},
		{"not quarantined", kafka.Verification{Subject: &kafka.SubjectCheck{Quarantined: false}}, false},
		{"record decrypts", kafka.Verification{StillDecrypting: []kafka.RecordRef{{Topic: "fhir"}}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.Verified(); got != tc.want {
				t.Errorf("Verified() = %v, want %v", got, tc.want)
			}
		})
	}
}

// The two-person rule compares normalised names, so one person cannot
// approve their own purge by changing case or adding invisible characters.
func TestPurgeSamePersonVariants(t *testing.T) {
	e := newSubjectEnv(t, "fhir")
	purger, err := kafka.NewPurger(e.ring(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	variants := []string{"Alice@Example.org", "alice@example.org ", "alice@example.org\u200b", "\u00a0alice@example.org",
		"ａｌｉｃｅ@example.org", "alice@\u2060example.org", "ALICE@EXAMPLE.ORG\ufeff"}
	for _, approver := range variants {
		_, err := purger.Purge(context.Background(), kafka.PurgeRequest{Subject: []byte(purgedMRN), Topics: []string{"fhir"},
			RequestedBy: "alice@example.org", ApprovedBy: approver})
		if err == nil || !strings.Contains(err.Error(), "same person") {
			t.Errorf("Purge(requested by alice@example.org, approved by %q) err = %v, want the same-person error", approver, err)
		}
	}
	for _, blank := range []string{" ", "\u200b", "\t\u00ad"} {
		_, err := purger.Purge(context.Background(), kafka.PurgeRequest{Subject: []byte(purgedMRN), Topics: []string{"fhir"},
			RequestedBy: "alice@example.org", ApprovedBy: blank})
		if err == nil || !strings.Contains(err.Error(), "needs RequestedBy and ApprovedBy") {
			t.Errorf("Purge(approved by %q) err = %v, want the missing-approver error", blank, err)
		}
	}
}

// Any change to a document's bytes, including added or renamed members,
// breaks the evidence chain.
func TestEvidenceRejectsEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evidence.jsonl")
	for range 2 {
		if err := kafka.AppendEvidence(path, &kafka.Evidence{Scope: "subject", RequestedBy: "alice", ApprovedBy: "bob", DEKIDs: []string{"00"}}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := kafka.VerifyEvidence(bytes.NewReader(raw)); err != nil || n != 2 {
		t.Fatalf("VerifyEvidence(intact) = %d, %v, want 2 documents", n, err)
	}
	cases := []struct{ name, old, new string }{
		{"members added", `"seq":1,`, `"seq":1,"subject":"` + purgedMRN + `","override_approval":true,`},
		{"member name case changed", `"approved_by"`, `"Approved_By"`},
		{"space added", `"scope":"subject"`, `"scope": "subject"`},
		{"member removed", `"topics":null,`, ``},
		{"hash member moved", `{"version":2,`, `{"hash":"x","version":2,`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			edited := bytes.Replace(raw, []byte(tc.old), []byte(tc.new), 1)
			if bytes.Equal(edited, raw) {
				t.Fatal("the edit did not apply")
			}
			if _, _, err := kafka.VerifyEvidence(bytes.NewReader(edited)); !errors.Is(err, kafka.ErrEvidenceChain) {
				t.Errorf("VerifyEvidence(%s) err = %v, want ErrEvidenceChain", tc.name, err)
			}
		})
	}
}

// A full purge cycle leaves the subject identifier in no log line, error,
// header, key-store record, audit line or evidence document, and the
// audit log verifies against the head the evidence recorded.
func TestPurgePHIScan(t *testing.T) {
	ctx := context.Background()
	e := newSubjectEnv(t, "fhir")
	var logs, auditBuf purgeLog
	sink := audit.NewLogSink(&auditBuf)
	huge := "HUGE" + strings.Repeat("Z", 200_000)
	prodRing := e.loggedRing(nil, &logs, keyring.WithAudit(sink), keyring.Principal("svc-producer"))
	consRing := e.loggedRing(nil, &logs, keyring.WithAudit(sink), keyring.AuditInterval(50*time.Millisecond))
	log := slog.New(slog.NewTextHandler(&logs, nil))
	p, err := kafka.NewProducer(e.client(), prodRing, kafka.KEK("patients"), kafka.SubjectFunc(subjectOfValue), kafka.WithProducerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for i, s := range []string{purgedMRN, "MRN-other", purgedMRN, huge} {
		produce(t, p, &kgo.Record{Topic: "fhir", Key: []byte{byte('a' + i)}, Value: []byte(s + " obs")})
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "fhir", Key: []byte("k"), Value: []byte(" empty subject")}).FirstErr(); err != nil {
		errs = append(errs, err.Error())
	} else {
		t.Errorf("produce with an empty subject succeeded")
	}

	evidence := filepath.Join(t.TempDir(), "evidence.jsonl")
	purger, err := kafka.NewPurger(e.loggedRing(nil, &logs, keyring.WithAudit(sink)), e.opts, kafka.EvidenceFile(evidence),
		kafka.AuditHead(sink), kafka.WithPurgeLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	var heads []string
	for _, s := range []string{purgedMRN, huge} {
		ev, err := purger.Purge(ctx, kafka.PurgeRequest{Subject: []byte(s), Topics: []string{"fhir"},
			RequestedBy: "dpo@example.org", ApprovedBy: "ciso@example.org", Reason: "ticket 7"})
		if err != nil {
			t.Fatalf("Purge() err = %v", err)
		}
		heads = append(heads, ev.AuditHead)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "fhir", Key: []byte("q"), Value: []byte(purgedMRN + " after")}).FirstErr(); err != nil {
		errs = append(errs, err.Error())
	}
	c, err := kafka.NewConsumer(e.client(kgo.ConsumeTopics("fhir"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())), consRing,
		kafka.OnDecryptError(kafka.Skip(func(_ *kgo.Record, err error) { errs = append(errs, err.Error()) })), kafka.WithConsumerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	for n := 0; n < 4; {
		rs, err := c.Poll(pctx)
		if err != nil {
			errs = append(errs, err.Error())
		}
		if pctx.Err() != nil {
			break
		}
		n += len(rs)
	}
	cancel()
	time.Sleep(200 * time.Millisecond) // an audit interval

	needles := map[string]string{"id": purgedMRN, "hex": hex.EncodeToString([]byte(purgedMRN)),
		"base64": base64.StdEncoding.EncodeToString([]byte(purgedMRN))[:16], "huge": "HUGEZZZZ"}
	check := func(where, text string) {
		for name, n := range needles {
			if strings.Contains(text, n) {
				t.Errorf("%s contains the subject (%s form)", where, name)
			}
		}
	}
	check("logs", logs.String())
	check("audit log", auditBuf.String())
	check("errors", strings.Join(errs, "\n"))
	ev, err := os.ReadFile(evidence)
	if err != nil {
		t.Fatal(err)
	}
	check("evidence", string(ev))
	for _, topic := range []string{"fhir", "kenvelope.keys"} {
		for _, r := range readTopic(t, e, topic) {
			check(topic+" record key", string(r.Key))
			check(topic+" record value", string(r.Value))
			for _, h := range r.Headers {
				check(topic+" header "+h.Key, h.Key+string(h.Value))
			}
		}
	}
	var opts []audit.VerifyOpt
	for _, h := range heads {
		seq, hash, err := audit.ParseHead(h)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, audit.ExpectHead(seq, hash))
	}
	if res, err := audit.Verify(strings.NewReader(auditBuf.String()), opts...); err != nil {
		t.Errorf("audit.Verify(log, heads from the evidence) = %+v, %v", res, err)
	}
}

// readTopic returns every record of topic.
func readTopic(t *testing.T, e *subjectEnv, topic string) []*kgo.Record {
	t.Helper()
	cl := e.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}
