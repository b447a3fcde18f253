package keyring_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

func openFileKEK(t *testing.T) *keyfile.KEK {
	t.Helper()
	k, err := keyfile.Open(filepath.Join(t.TempDir(), "kek.json"), "patients")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func versionOf(t *testing.T, desc []byte) uint32 {
	t.Helper()
	d, err := envelope.Parse(desc)
	if err != nil {
		t.Fatal(err)
	}
	return d.KEKVersion
}

func TestRingFollowsKEKRotation(t *testing.T) {
	kek := openFileKEK(t)
	r := newRing(t, []kms.KEK{kek}, keyring.RotationCheck(20*time.Millisecond))
	oldDesc, oldSealed := seal(t, r, "patients", []byte("before"))
	if v := versionOf(t, oldDesc); v != 1 {
		t.Fatalf("version before rotation = %d, want 1", v)
	}
	if _, err := kek.Rotate(); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(2 * time.Second)
	for {
		desc, _ := seal(t, r, "patients", []byte("after"))
		if versionOf(t, desc) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("records still use version 1 two seconds after rotation, RotationCheck is 20ms")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, err := open(r, oldDesc, oldSealed); err != nil || string(got) != "before" {
		t.Fatalf("Open(record from version 1) = %q, %v, want before", got, err)
	}
}

func TestRingForcedRotation(t *testing.T) {
	kek := openFileKEK(t)
	r := newRing(t, []kms.KEK{kek}, keyring.RotationCheck(0))
	seal(t, r, "patients", []byte("v"))
	if _, err := kek.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := r.Rotate("patients"); err != nil {
		t.Fatal(err)
	}
	desc, _ := seal(t, r, "patients", []byte("v"))
	if v := versionOf(t, desc); v != 2 {
		t.Fatalf("version right after Rotate() = %d, want 2", v)
	}
}

func TestRingVersionBelowMinimum(t *testing.T) {
	kek := openFileKEK(t)
	producer := newRing(t, []kms.KEK{kek})
	desc, sealed := seal(t, producer, "patients", []byte("v"))
	if _, err := kek.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := kek.SetMinVersion(2); err != nil {
		t.Fatal(err)
	}
	consumer := newRing(t, []kms.KEK{kek})
	_, err := open(consumer, desc, sealed)
	var kerr *kms.Error
	if !errors.Is(err, kms.ErrVersionTooOld) || !errors.As(err, &kerr) {
		t.Fatalf("Open(version 1 record, minimum 2) err = %v, want ErrVersionTooOld", err)
	}
	if kerr.Version != 1 || kerr.MinVersion != 2 {
		t.Fatalf("error versions = %d, min %d, want 1, min 2", kerr.Version, kerr.MinVersion)
	}
}
