package keyring_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

func TestReserveSubjectEdges(t *testing.T) {
	ctx := context.Background()
	bare := newRing(t, []kms.KEK{newKEK(t, "patients")})
	if _, err := bare.ReserveSubject(ctx, "patients", []byte("p"), 1, 1); !errors.Is(err, keyring.ErrNoKeyStore) {
		t.Errorf("ReserveSubject() without store err = %v, want ErrNoKeyStore", err)
	}
	if _, err := bare.Shred(ctx, []byte("p")); !errors.Is(err, keyring.ErrNoKeyStore) {
		t.Errorf("Shred() without store err = %v, want ErrNoKeyStore", err)
	}

	r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(keyring.NewMemoryStore()), keyring.MaxRecords(2))
	var uk *keyring.UnknownKEKError
	if _, err := r.ReserveSubject(ctx, "other", []byte("p"), 1, 1); !errors.As(err, &uk) {
		t.Errorf("ReserveSubject(unknown KEK) err = %v, want *UnknownKEKError", err)
	}
	if _, err := r.ReserveSubject(ctx, "patients", nil, 0, 0); !errors.Is(err, keyring.ErrNoSubject) {
		t.Errorf("ReserveSubject(nil subject) err = %v, want ErrNoSubject", err)
	}
	zero, err := r.ReserveSubject(ctx, "patients", []byte("p"), 0, 0)
	if err != nil {
		t.Fatalf("ReserveSubject(count 0) err = %v", err)
	}
	two, err := r.ReserveSubject(ctx, "patients", []byte("p"), 2, 10)
	if err != nil {
		t.Fatalf("ReserveSubject(count 2) err = %v", err)
	}
	if !equalDesc(zero, two) {
		t.Errorf("count 0 then 2 of MaxRecords 2 used two DEKs, want one")
	}
	third, err := r.ReserveSubject(ctx, "patients", []byte("p"), 1, 1)
	if err != nil {
		t.Fatalf("ReserveSubject(third) err = %v", err)
	}
	if equalDesc(two, third) {
		t.Errorf("third value under MaxRecords 2 reused the exhausted DEK")
	}
	if err := r.Quarantine(ctx, []byte("p")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReserveSubject(ctx, "patients", []byte("p"), 0, 0); !errors.Is(err, keyring.ErrQuarantined) {
		t.Errorf("ReserveSubject(count 0, quarantined) err = %v, want ErrQuarantined", err)
	}
}

func equalDesc(a, b keyring.Reservation) bool {
	return string(a.Descriptor(envelope.PayloadValue)) == string(b.Descriptor(envelope.PayloadValue))
}
