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

// A Ring that consumes and produces records of the same subject (a stream
// processor) opens a record of a quarantined subject and then seals for
// it. Opening must not make the subject's DEK usable for sealing again.
func TestQuarantineSurvivesOpen(t *testing.T) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	keks := []kms.KEK{newKEK(t, "patients")}
	processor := newRing(t, keks, keyring.WithKeyStore(store))
	admin := newRing(t, keks, keyring.WithKeyStore(store))

	desc, sealed := sealSubject(t, processor, raceSubject, []byte("obs"))
	if err := admin.Quarantine(ctx, []byte(raceSubject)); err != nil {
		t.Fatal(err)
	}
	_, _, err := processor.SealSubject(ctx, "patients", []byte(raceSubject), envelope.PayloadValue, nil, []byte("v"), binding)
	if !errors.Is(err, keyring.ErrQuarantined) {
		t.Fatalf("SealSubject(quarantined) err = %v, want ErrQuarantined", err)
	}

	if _, err := open(processor, desc, sealed); err != nil {
		t.Fatalf("Open(record sealed before quarantine) err = %v", err)
	}
	desc2, _, err := processor.SealSubject(ctx, "patients", []byte(raceSubject), envelope.PayloadValue, nil, []byte("v"), binding)
	if !errors.Is(err, keyring.ErrQuarantined) {
		t.Fatalf("SealSubject(quarantined) after Open err = %v, want ErrQuarantined (sealed under DEK %s)", err, dekID(t, desc2))
	}
}

// The same, with the quarantine set through the processor itself.
func TestQuarantineSurvivesOpenSameRing(t *testing.T) {
	ctx := context.Background()
	r := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(keyring.NewMemoryStore()))
	desc, sealed := sealSubject(t, r, raceSubject, []byte("obs"))
	if err := r.Quarantine(ctx, []byte(raceSubject)); err != nil {
		t.Fatal(err)
	}
	if _, err := open(r, desc, sealed); err != nil {
		t.Fatalf("Open(record sealed before quarantine) err = %v", err)
	}
	_, _, err := r.SealSubject(ctx, "patients", []byte(raceSubject), envelope.PayloadValue, nil, []byte("v"), binding)
	if !errors.Is(err, keyring.ErrQuarantined) {
		t.Fatalf("SealSubject(quarantined) after Open err = %v, want ErrQuarantined", err)
	}
	_, err = r.ReserveSubject(ctx, "patients", []byte(raceSubject), 1, 1)
	if !errors.Is(err, keyring.ErrQuarantined) {
		t.Fatalf("ReserveSubject(quarantined) after Open err = %v, want ErrQuarantined", err)
	}
}

// Another Ring moves the subject to its next generation and the store
// reports it, so the processor must seal under the new generation. An Open
// of a record under the old generation must not make the old DEK current
// again: ShredBefore deletes it, and with it every record sealed under it.
func TestNewGenerationSurvivesOpen(t *testing.T) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	keks := []kms.KEK{newKEK(t, "patients")}
	processor := newRing(t, keks, keyring.WithKeyStore(store))
	other := newRing(t, keks, keyring.WithKeyStore(store), keyring.MaxRecords(1))

	desc1, sealed1 := sealSubject(t, processor, raceSubject, []byte("obs"))
	sealSubject(t, other, raceSubject, []byte("v")) // the other Ring's one record under generation 1
	desc2, _ := sealSubject(t, other, raceSubject, []byte("v"))
	if dekID(t, desc2) == dekID(t, desc1) {
		t.Fatal("MaxRecords(1) Ring did not create generation 2")
	}

	time.Sleep(time.Millisecond)
	cutoff := time.Now() // a retention purge of what was sealed before now
	time.Sleep(time.Millisecond)

	if _, err := open(processor, desc1, sealed1); err != nil {
		t.Fatalf("Open(generation 1 record) err = %v", err)
	}
	desc3, sealed3 := sealSubject(t, processor, raceSubject, []byte("new"))
	if dekID(t, desc3) == dekID(t, desc1) {
		t.Errorf("SealSubject after the store reported generation 2 used generation 1 DEK %s", dekID(t, desc1))
	}
	if _, err := processor.ShredBefore(ctx, cutoff); err != nil {
		t.Fatal(err)
	}
	if _, err := open(processor, desc3, sealed3); err != nil {
		t.Errorf("Open(record sealed after the cut-off) after ShredBefore(cut-off) err = %v, want readable", err)
	}
}
