package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

func reserveSubject(t *testing.T, r *keyring.Ring, subject string, count int) keyring.Reservation {
	t.Helper()
	res, err := r.ReserveSubject(context.Background(), "patients", []byte(subject), count, 10*count)
	if err != nil {
		t.Fatalf("ReserveSubject(%s, %d) err = %v", subject, count, err)
	}
	return res
}

func TestReserveSubjectLimits(t *testing.T) {
	r := subjectRings(t, keyring.NewMemoryStore(), []kms.KEK{newKEK(t, "patients")}, 1, keyring.MaxRecords(5))[0]
	a := reserveSubject(t, r, "p1", 3)
	b := reserveSubject(t, r, "p1", 2)
	if a.DEK() != b.DEK() {
		t.Error("ReserveSubject(2) within the limit returned another DEK")
	}
	if other := reserveSubject(t, r, "p2", 1); other.DEK() == a.DEK() {
		t.Error("ReserveSubject(p2) returned the DEK of p1")
	}
	c := reserveSubject(t, r, "p1", 1)
	if c.DEK() == a.DEK() {
		t.Error("ReserveSubject past MaxRecords returned the exhausted DEK")
	}
	if dekID(t, c.Descriptor(envelope.PayloadJSON)) == dekID(t, a.Descriptor(envelope.PayloadJSON)) {
		t.Error("next generation has the same DEK id")
	}
}

// What a subject reservation seals, another Ring on the store opens
// through the descriptor, until the subject is shredded.
func TestReserveSubjectOpenAndShred(t *testing.T) {
	ctx := context.Background()
	rs := subjectRings(t, keyring.NewMemoryStore(), []kms.KEK{newKEK(t, "patients")}, 2)
	res := reserveSubject(t, rs[0], "p1", 1)
	for _, p := range []envelope.Payload{envelope.PayloadValue, envelope.PayloadJSON, envelope.PayloadHeader} {
		d, err := envelope.Parse(res.Descriptor(p))
		if err != nil || d.Payload != p || d.Scope != envelope.ScopeSubject || d.KEKName != "patients" {
			t.Errorf("Descriptor(%d) = %+v, err %v; want subject scope, payload %d of KEK patients", p, d, err, p)
		}
	}
	desc := res.Descriptor(envelope.PayloadJSON)
	sealed := res.DEK().Seal(nil, []byte("field"), desc, binding)
	d, _ := envelope.Parse(desc)
	got, err := rs[1].Open(ctx, d, desc, nil, sealed, binding)
	if err != nil || !bytes.Equal(got, []byte("field")) {
		t.Fatalf("Open() = %q, err %v; want field", got, err)
	}

	if _, err := rs[0].Shred(ctx, []byte("p1")); err != nil {
		t.Fatalf("Shred(p1) err = %v", err)
	}
	if _, err := rs[0].DEK(ctx, d); !errors.Is(err, keyring.ErrShredded) {
		t.Errorf("DEK() after Shred err = %v, want ErrShredded", err)
	}
}

func TestReserveSubjectErrors(t *testing.T) {
	ctx := context.Background()
	keks := []kms.KEK{newKEK(t, "patients")}
	r := subjectRings(t, keyring.NewMemoryStore(), keks, 1, keyring.MaxRecords(5))[0]
	cases := []struct {
		name    string
		ring    *keyring.Ring
		kek     string
		subject string
		count   int
		want    error
	}{
		{"no store", newRing(t, keks), "patients", "p1", 1, keyring.ErrNoKeyStore},
		{"no subject", r, "patients", "", 1, keyring.ErrNoSubject},
		{"unknown KEK", r, "other", "p1", 1, nil},
		{"over limit", r, "patients", "p1", 6, nil},
		{"negative", r, "patients", "p1", -1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.ring.ReserveSubject(ctx, tc.kek, []byte(tc.subject), tc.count, 1)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("ReserveSubject() err = %v, want %v", err, tc.want)
			}
		})
	}
}
