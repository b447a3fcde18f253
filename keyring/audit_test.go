package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

func TestAuditEventsForSubjectLifecycle(t *testing.T) {
	var log bytes.Buffer
	sink := audit.NewLogSink(&log)
	store := keyring.NewMemoryStore()
	opts := []keyring.Opt{keyring.WithKeyStore(store), keyring.WithAudit(sink), keyring.Principal("svc-lab"),
		keyring.AuditInterval(time.Hour)}
	r, err := keyring.New([]kms.KEK{newKEK(t, "patients")}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	subject := "Patient/5b7e0a0c-secret"
	desc, sealed := sealSubject(t, r, subject, []byte("v"))
	d, _ := envelope.Parse(desc)
	ctx := keyring.WithTopic(context.Background(), "fhir")
	for i := 0; i < 3; i++ {
		if _, err := r.Open(ctx, d, desc, nil, sealed, binding); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Shred(context.Background(), []byte(subject)); err != nil {
		t.Fatal(err)
	}
	_, err = r.DEK(ctx, d)
	for i := 0; i < 4; i++ {
		r.AuditDenied(ctx, "fhir", 0, int64(i), &d, err)
	}
	r.Close() // flushes the aggregated events

	if strings.Contains(log.String(), "5b7e0a0c") {
		t.Fatal("audit log contains the subject identifier")
	}
	if _, err := audit.Verify(bytes.NewReader(log.Bytes())); err != nil {
		t.Fatalf("Verify(audit log) err = %v", err)
	}
	for _, want := range []string{`"kind":"dek.created"`, `"kind":"shred.requested"`, `"kind":"shred.completed"`,
		`"kind":"dek.denied"`, `"reason":"shredded"`, `"principal":"svc-lab"`, `"key_ids":["` + keyring.DEKID(d.KeyRef).String()} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	unwrapped := countLines(log.String(), `"kind":"dek.unwrapped"`)
	if unwrapped != 1 || !strings.Contains(log.String(), `"topic":"fhir","kek":"patients","kek_version":1,"key_ids"`) {
		t.Errorf("dek.unwrapped lines = %d, want 1 aggregated line for topic fhir", unwrapped)
	}
	if !strings.Contains(log.String(), `"count":3`) {
		t.Error("dek.unwrapped does not count the three opens")
	}
	// First denial at once, three repeats in one aggregated event.
	if n := countLines(log.String(), `"kind":"dek.denied"`); n != 2 {
		t.Errorf("dek.denied lines = %d, want 2", n)
	}
}

func countLines(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func TestRewrapMemoryStore(t *testing.T) {
	kek := openFileKEK(t)
	store := keyring.NewMemoryStore()
	r := newRing(t, []kms.KEK{kek}, keyring.WithKeyStore(store))
	var descs, sealed [][]byte
	for _, s := range []string{"a", "b", "c"} {
		d, v := sealSubject(t, r, s, []byte("v-"+s))
		descs, sealed = append(descs, d), append(sealed, v)
	}
	if _, err := kek.Rotate(); err != nil {
		t.Fatal(err)
	}
	res, err := r.Rewrap(context.Background())
	if err != nil || res.Scanned != 4 || res.Rewrapped != 4 || res.Failed != 0 {
		t.Fatalf("Rewrap() = %+v, %v, want 4 scanned and rewrapped", res, err)
	}
	again, err := r.Rewrap(context.Background())
	if err != nil || again.Rewrapped != 0 || again.Current != 4 {
		t.Fatalf("second Rewrap() = %+v, %v, want 0 rewrapped, 4 current", again, err)
	}
	if err := kek.Destroy(1); err != nil {
		t.Fatal(err)
	}
	fresh := newRing(t, []kms.KEK{kek}, keyring.WithKeyStore(store))
	for i := range descs {
		if got, err := open(fresh, descs[i], sealed[i]); err != nil || !strings.HasPrefix(string(got), "v-") {
			t.Fatalf("Open(record %d) after rewrap and destroying version 1 = %q, %v", i, got, err)
		}
	}
}

func TestRewrapBeforeAndResume(t *testing.T) {
	store := keyring.NewMemoryStore()
	r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	sealSubject(t, r, "a", []byte("v"))
	res, err := r.Rewrap(context.Background())
	if err != nil || res.Rewrapped != 0 || res.Current != 2 {
		t.Fatalf("Rewrap() of current entries = %+v, %v, want none rewrapped", res, err)
	}
	res, err = r.Rewrap(context.Background(), keyring.RewrapBefore(time.Now().Add(time.Second)))
	if err != nil || res.Rewrapped != 2 {
		t.Fatalf("Rewrap(RewrapBefore(now)) = %+v, %v, want 2 rewrapped", res, err)
	}
	resumed, err := r.Rewrap(context.Background(), keyring.RewrapBefore(res.Started))
	if err != nil || resumed.Rewrapped != 0 || resumed.Current != 2 {
		t.Fatalf("resumed Rewrap() = %+v, %v, want nothing left to do", resumed, err)
	}
	if _, err := r.Rewrap(context.Background(), keyring.RewrapKEK("claims")); !errors.Is(err, keyring.ErrUnknownKEK) {
		t.Fatalf("Rewrap(RewrapKEK(unknown)) err = %v, want ErrUnknownKEK", err)
	}
}
