package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// subjectRings returns n Rings sharing one MemoryStore, as n processes
// sharing a key store would.
func subjectRings(t *testing.T, store keyring.KeyStore, keks []kms.KEK, n int, opts ...keyring.Opt) []*keyring.Ring {
	t.Helper()
	out := make([]*keyring.Ring, n)
	for i := range out {
		out[i] = newRing(t, keks, append([]keyring.Opt{keyring.WithKeyStore(store)}, opts...)...)
	}
	return out
}

func sealSubject(t testing.TB, r *keyring.Ring, subject string, pt []byte) (desc, sealed []byte) {
	t.Helper()
	desc, sealed, err := r.SealSubject(context.Background(), "patients", []byte(subject), envelope.PayloadValue, nil, pt, binding)
	if err != nil {
		t.Fatalf("SealSubject(%s) err = %v", subject, err)
	}
	return desc, sealed
}

func dekID(t testing.TB, desc []byte) string {
	t.Helper()
	d, err := envelope.Parse(desc)
	if err != nil {
		t.Fatal(err)
	}
	if d.Scope != envelope.ScopeSubject {
		t.Fatalf("descriptor scope = %d, want ScopeSubject", d.Scope)
	}
	return keyring.DEKID(d.KeyRef).String()
}

func countEntries(t *testing.T, s keyring.KeyStore, kind keyring.EntryKind) int {
	t.Helper()
	n := 0
	if err := s.Range(context.Background(), func(e keyring.Entry) bool {
		if e.Kind == kind {
			n++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSubjectRoundTripAcrossRings(t *testing.T) {
	store := keyring.NewMemoryStore()
	producer := subjectRings(t, store, []kms.KEK{newKEK(t, "patients")}, 1)[0]
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	consumer := newRing(t, []kms.KEK{counting}, keyring.WithKeyStore(store))

	desc, sealed := sealSubject(t, producer, "Patient/p-1", []byte("observation"))
	for i := 0; i < 50; i++ {
		got, err := open(consumer, desc, sealed)
		if err != nil || string(got) != "observation" {
			t.Fatalf("Open() = %q, %v, want observation", got, err)
		}
	}
	if n := counting.Unwraps(); n != 1 {
		t.Fatalf("consumer unwraps = %d, want 1", n)
	}
}

func TestSubjectOneDEKPerSubject(t *testing.T) {
	store := keyring.NewMemoryStore()
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	r := subjectRings(t, store, []kms.KEK{counting}, 1)[0]
	ids := map[string]string{}
	for i := 0; i < 20; i++ {
		for _, s := range []string{"Patient/a", "Patient/b", "Patient/c"} {
			desc, _ := sealSubject(t, r, s, []byte("v"))
			if prev, ok := ids[s]; ok && prev != dekID(t, desc) {
				t.Fatalf("subject %s got DEK %s, then %s", s, prev, dekID(t, desc))
			}
			ids[s] = dekID(t, desc)
		}
	}
	if ids["Patient/a"] == ids["Patient/b"] || ids["Patient/b"] == ids["Patient/c"] {
		t.Fatalf("DEK ids %v, want one per subject", ids)
	}
	// One wrap for the token key and one per subject, none per record.
	if n := counting.Wraps(); n != 4 {
		t.Fatalf("wraps for 3 subjects and 60 records = %d, want 4", n)
	}
}

func TestSubjectIdentifierNeverStored(t *testing.T) {
	store := keyring.NewMemoryStore()
	r := subjectRings(t, store, []kms.KEK{newKEK(t, "patients")}, 1)[0]
	subject := []byte("Patient/8f14e45f-ceea-467f-a0e6-000000000001")
	desc, _, err := r.SealSubject(context.Background(), "patients", subject, envelope.PayloadValue, nil, []byte("v"), binding)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(desc, subject) || bytes.Contains(desc, subject[8:20]) {
		t.Fatal("descriptor contains the subject identifier")
	}
	store.Range(context.Background(), func(e keyring.Entry) bool {
		if bytes.Contains(e.EDEK, subject[8:20]) || bytes.Contains(e.Token[:], subject[8:20]) {
			t.Errorf("stored entry %s contains the subject identifier", e.ID)
		}
		return true
	})
}

func TestSubjectConcurrentFirstWritesConverge(t *testing.T) {
	store := keyring.NewMemoryStore()
	keks := []kms.KEK{newKEK(t, "patients")}
	rings := subjectRings(t, store, keks, 4)
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			desc, _ := sealSubject(t, rings[g%len(rings)], "Patient/new", []byte("v"))
			mu.Lock()
			ids[dekID(t, desc)] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("32 concurrent first seals in 4 rings used %d DEKs, want 1", len(ids))
	}
	if n := countEntries(t, store, keyring.KindSubjectDEK); n != 1 {
		t.Fatalf("stored subject DEKs = %d, want 1 (losers deleted)", n)
	}
	if n := countEntries(t, store, keyring.KindTokenKey); n != 1 {
		t.Fatalf("stored token keys = %d, want 1", n)
	}
}

func TestShredSubject(t *testing.T) {
	store := keyring.NewMemoryStore()
	keks := []kms.KEK{newKEK(t, "patients")}
	rings := subjectRings(t, store, keks, 2)
	producer, consumer := rings[0], rings[1]
	descA, sealedA := sealSubject(t, producer, "Patient/a", []byte("a1"))
	descB, sealedB := sealSubject(t, producer, "Patient/b", []byte("b1"))
	for _, r := range rings {
		if _, err := open(r, descA, sealedA); err != nil {
			t.Fatalf("Open(a) before shred err = %v", err)
		}
	}

	res, err := producer.Shred(context.Background(), []byte("Patient/a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.DEKIDs) != 1 || res.DEKIDs[0].String() != dekID(t, descA) {
		t.Fatalf("Shred() ids = %v, want [%s]", res.IDStrings(), dekID(t, descA))
	}
	for i, r := range rings {
		_, err := open(r, descA, sealedA)
		var se *keyring.ShreddedError
		if !errors.As(err, &se) || !errors.Is(err, keyring.ErrShredded) || se.DEKID != dekID(t, descA) {
			t.Fatalf("ring %d Open(shredded a) err = %v, want ShreddedError for %s", i, err, dekID(t, descA))
		}
		if got, err := open(r, descB, sealedB); err != nil || string(got) != "b1" {
			t.Fatalf("ring %d Open(b) after shredding a = %q, %v, want b1", i, got, err)
		}
	}

	descA2, sealedA2 := sealSubject(t, producer, "Patient/a", []byte("a2"))
	if dekID(t, descA2) == dekID(t, descA) {
		t.Fatal("subject sealed again after Shred reuses the shredded DEK id")
	}
	if got, err := open(consumer, descA2, sealedA2); err != nil || string(got) != "a2" {
		t.Fatalf("Open(new a record) = %q, %v, want a2", got, err)
	}
	if _, err := open(consumer, descA, sealedA); !errors.Is(err, keyring.ErrShredded) {
		t.Fatalf("Open(old a record) after a new DEK err = %v, want ErrShredded", err)
	}
}

func TestQuarantineStopsSealing(t *testing.T) {
	store := keyring.NewMemoryStore()
	rings := subjectRings(t, store, []kms.KEK{newKEK(t, "patients")}, 2)
	sealSubject(t, rings[1], "Patient/q", []byte("v"))
	if err := rings[0].Quarantine(context.Background(), []byte("Patient/q")); err != nil {
		t.Fatal(err)
	}
	for i, r := range rings {
		_, _, err := r.SealSubject(context.Background(), "patients", []byte("Patient/q"), envelope.PayloadValue, nil, []byte("v"), binding)
		if !errors.Is(err, keyring.ErrQuarantined) {
			t.Fatalf("ring %d SealSubject(quarantined) err = %v, want ErrQuarantined", i, err)
		}
	}
	sealSubject(t, rings[1], "Patient/other", []byte("v"))
	if err := rings[0].Release(context.Background(), []byte("Patient/q")); err != nil {
		t.Fatal(err)
	}
	sealSubject(t, rings[1], "Patient/q", []byte("v"))
}

func TestSubjectGenerationsAndShredBefore(t *testing.T) {
	store := keyring.NewMemoryStore()
	r := subjectRings(t, store, []kms.KEK{newKEK(t, "patients")}, 1, keyring.MaxRecords(1))[0]
	var descs, sealed [][]byte
	for i := 0; i < 3; i++ {
		d, s := sealSubject(t, r, "Patient/g", []byte{byte('0' + i)})
		descs, sealed = append(descs, d), append(sealed, s)
	}
	if dekID(t, descs[0]) == dekID(t, descs[1]) || dekID(t, descs[1]) == dekID(t, descs[2]) {
		t.Fatal("MaxRecords(1) did not give each record a new generation")
	}
	res, err := r.ShredBefore(context.Background(), time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.DEKIDs) != 2 {
		t.Fatalf("ShredBefore() deleted %d DEKs, want 2 (the replaced generations)", len(res.DEKIDs))
	}
	for i := 0; i < 2; i++ {
		if _, err := open(r, descs[i], sealed[i]); !errors.Is(err, keyring.ErrShredded) {
			t.Errorf("Open(generation %d) err = %v, want ErrShredded", i+1, err)
		}
	}
	if got, err := open(r, descs[2], sealed[2]); err != nil || string(got) != "2" {
		t.Fatalf("Open(current generation) = %q, %v, want 2", got, err)
	}
}

func TestSubjectCacheTTLRevalidatesWithoutKMS(t *testing.T) {
	store := keyring.NewMemoryStore()
	producer := subjectRings(t, store, []kms.KEK{newKEK(t, "patients")}, 1)[0]
	desc, sealed := sealSubject(t, producer, "Patient/t", []byte("v"))
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	consumer := newRing(t, []kms.KEK{counting}, keyring.WithKeyStore(store), keyring.SubjectCacheTTL(10*time.Millisecond))
	for i := 0; i < 3; i++ {
		if _, err := open(consumer, desc, sealed); err != nil {
			t.Fatal(err)
		}
		time.Sleep(15 * time.Millisecond)
	}
	if n := counting.Unwraps(); n != 1 {
		t.Fatalf("unwraps across three TTL expiries = %d, want 1", n)
	}
}

func TestSubjectNeedsKeyStore(t *testing.T) {
	r := newRing(t, []kms.KEK{newKEK(t, "patients")})
	_, _, err := r.SealSubject(context.Background(), "patients", []byte("p"), envelope.PayloadValue, nil, nil, binding)
	if !errors.Is(err, keyring.ErrNoKeyStore) {
		t.Fatalf("SealSubject() without store err = %v, want ErrNoKeyStore", err)
	}
	withStore := subjectRings(t, keyring.NewMemoryStore(), []kms.KEK{newKEK(t, "patients")}, 1)[0]
	desc, sealed := sealSubject(t, withStore, "p", []byte("v"))
	if _, err := open(r, desc, sealed); !errors.Is(err, keyring.ErrNoKeyStore) {
		t.Fatalf("Open(subject record) without store err = %v, want ErrNoKeyStore", err)
	}
	_, _, err = withStore.SealSubject(context.Background(), "patients", nil, envelope.PayloadValue, nil, nil, binding)
	if !errors.Is(err, keyring.ErrNoSubject) {
		t.Fatalf("SealSubject(empty subject) err = %v, want ErrNoSubject", err)
	}
}

func TestSubjectKMSOutageFailsClosed(t *testing.T) {
	faulty := kmstest.NewFaulty(newKEK(t, "patients"))
	r := subjectRings(t, keyring.NewMemoryStore(), []kms.KEK{faulty}, 1)[0]
	sealSubject(t, r, "Patient/known", []byte("v"))
	faulty.Fail(kms.ErrUnavailable, -1)
	_, _, err := r.SealSubject(context.Background(), "patients", []byte("Patient/new"), envelope.PayloadValue, nil, []byte("v"), binding)
	if !errors.Is(err, kms.ErrUnavailable) {
		t.Fatalf("SealSubject(new subject) during outage err = %v, want ErrUnavailable", err)
	}
	sealSubject(t, r, "Patient/known", []byte("cached DEK needs no KMS"))
}

func TestSubjectCacheEvictionStillForgetsShred(t *testing.T) {
	store := keyring.NewMemoryStore()
	keks := []kms.KEK{newKEK(t, "patients")}
	producer := newRing(t, keks, keyring.WithKeyStore(store), keyring.SubjectCacheSize(2))
	admin := newRing(t, keks, keyring.WithKeyStore(store))
	desc, sealed := sealSubject(t, producer, "Patient/first", []byte("v"))
	for _, s := range []string{"Patient/x", "Patient/y", "Patient/z"} {
		sealSubject(t, producer, s, []byte("v")) // evicts Patient/first
	}
	if _, err := admin.Shred(context.Background(), []byte("Patient/first")); err != nil {
		t.Fatal(err)
	}
	again, _ := sealSubject(t, producer, "Patient/first", []byte("v"))
	if dekID(t, again) == dekID(t, desc) {
		t.Fatal("SealSubject after an eviction and a shred in another ring used the shredded DEK")
	}
	if _, err := open(producer, desc, sealed); !errors.Is(err, keyring.ErrShredded) {
		t.Fatalf("Open(shredded) err = %v, want ErrShredded", err)
	}
}
