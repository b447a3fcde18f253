package keyring_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// A Ring whose store misses the report of a Shred must stop sealing under
// the shredded DEK within SubjectCacheTTL plus one clock step and the
// documented scheduling lag after Shred returned, even when its unwrap of
// that DEK was slow. hookKEK runs the Shred and then simulates a KMS
// that takes 300 ms to respond.
func TestDeafRingSlowUnwrapShredBound(t *testing.T) {
	const ttl = 100 * time.Millisecond
	ctx := context.Background()
	mem := keyring.NewMemoryStore()
	admin := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(mem))
	d0, _, _, err := sealParsed(t, admin, raceSubject)
	if err != nil {
		t.Fatal(err)
	}

	var shredAt time.Time
	hk := &hookKEK{KEK: newKEK(t, "patients")}
	hk.onUnwrap = func() {
		if _, err := admin.Shred(ctx, []byte(raceSubject)); err != nil {
			t.Errorf("Shred() err = %v", err)
		}
		shredAt = time.Now()
		time.Sleep(3 * ttl)
	}
	producer := newRing(t, []kms.KEK{hk}, keyring.WithKeyStore(deafStore{mem}), keyring.SubjectCacheTTL(ttl))
	if _, _, _, err := sealParsed(t, producer, raceSubject); err != nil {
		t.Fatalf("SealSubject() during Shred err = %v", err)
	}

	// ttl/16 is the clock step; 110 ms is the documented scheduling lag.
	bound := ttl + ttl/16 + 110*time.Millisecond
	time.Sleep(time.Until(shredAt.Add(bound)))
	d, _, _, err := sealParsed(t, producer, raceSubject)
	if err != nil {
		t.Fatalf("SealSubject() after the bound err = %v", err)
	}
	if string(d.KeyRef) == string(d0.KeyRef) {
		t.Errorf("SealSubject %v after Shred returned used the shredded DEK %x, want a new DEK after %v",
			time.Since(shredAt).Round(time.Millisecond), d0.KeyRef, bound)
	}
}

// The same for a Quarantine set through another Ring.
func TestDeafRingSlowUnwrapQuarantineBound(t *testing.T) {
	const ttl = 100 * time.Millisecond
	ctx := context.Background()
	mem := keyring.NewMemoryStore()
	admin := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(mem))
	if _, _, _, err := sealParsed(t, admin, raceSubject); err != nil {
		t.Fatal(err)
	}

	var quarantinedAt time.Time
	hk := &hookKEK{KEK: newKEK(t, "patients")}
	hk.onUnwrap = func() {
		if err := admin.Quarantine(ctx, []byte(raceSubject)); err != nil {
			t.Errorf("Quarantine() err = %v", err)
		}
		quarantinedAt = time.Now()
		time.Sleep(3 * ttl)
	}
	producer := newRing(t, []kms.KEK{hk}, keyring.WithKeyStore(deafStore{mem}), keyring.SubjectCacheTTL(ttl))
	_, _, _, _ = sealParsed(t, producer, raceSubject) // in flight during Quarantine: either result is fine

	bound := ttl + ttl/16 + 110*time.Millisecond
	time.Sleep(time.Until(quarantinedAt.Add(bound)))
	_, _, err := producer.SealSubject(ctx, "patients", []byte(raceSubject), envelope.PayloadValue, nil, []byte("v"), binding)
	if !errors.Is(err, keyring.ErrQuarantined) {
		t.Errorf("SealSubject %v after Quarantine returned err = %v, want ErrQuarantined after %v",
			time.Since(quarantinedAt).Round(time.Millisecond), err, bound)
	}
}
