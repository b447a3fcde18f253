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
)

// hookKEK wraps a real key-file KEK and calls a hook before the first
// Wrap or Unwrap of a subject DEK. It is a test double only to place a
// KMS round trip at a chosen moment: a real KMS call takes milliseconds,
// which opens the same window, just not deterministically.
type hookKEK struct {
	kms.KEK
	mu       sync.Mutex
	onWrap   func()
	onUnwrap func()
}

func (h *hookKEK) take(f *func()) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn := *f
	*f = nil
	return fn
}

func (h *hookKEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if ec["kenvelope"] == "subject-dek" {
		if fn := h.take(&h.onWrap); fn != nil {
			fn()
		}
	}
	return h.KEK.Wrap(ctx, dek, ec)
}

func (h *hookKEK) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	if ec["kenvelope"] == "subject-dek" {
		if fn := h.take(&h.onUnwrap); fn != nil {
			fn()
		}
	}
	return h.KEK.Unwrap(ctx, w, ec)
}

const raceSubject = "MRN-ZX-88412377"

// sealParsed seals one record for subject and returns its parsed and
// encoded descriptor and the sealed value.
func sealParsed(t *testing.T, r *keyring.Ring, subject string) (envelope.Descriptor, []byte, []byte, error) {
	t.Helper()
	desc, sealed, err := r.SealSubject(context.Background(), "patients", []byte(subject), envelope.PayloadValue, nil, []byte("obs"), binding)
	if err != nil {
		return envelope.Descriptor{}, nil, nil, err
	}
	d, err := envelope.Parse(desc)
	if err != nil {
		t.Fatal(err)
	}
	return d, desc, sealed, nil
}

// A Ring that is unwrapping a subject's DEK when another Ring shreds the
// subject must not cache the shredded DEK and seal under it afterwards.
func TestSealAfterShredDuringUnwrap(t *testing.T) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	admin := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	d0, _, _, err := sealParsed(t, admin, raceSubject)
	if err != nil {
		t.Fatal(err)
	}

	hk := &hookKEK{KEK: newKEK(t, "patients")}
	shredded := make(chan keyring.ShredResult, 1)
	hk.onUnwrap = func() {
		res, err := admin.Shred(ctx, []byte(raceSubject))
		if err != nil {
			t.Errorf("Shred() err = %v", err)
		}
		shredded <- res
	}
	producer := newRing(t, []kms.KEK{hk}, keyring.WithKeyStore(store))
	d1, desc1, sealed1, err := sealParsed(t, producer, raceSubject)
	if err != nil {
		t.Fatalf("SealSubject() during Shred err = %v", err)
	}
	res := <-shredded
	if len(res.DEKIDs) != 1 || !bytes.Equal(res.DEKIDs[0][:], d0.KeyRef) {
		t.Fatalf("Shred() = %v, want the one DEK %x", res.IDStrings(), d0.KeyRef)
	}
	d2, desc2, sealed2, err := sealParsed(t, producer, raceSubject)
	if err != nil {
		t.Fatalf("SealSubject() after Shred err = %v", err)
	}
	for i, d := range []envelope.Descriptor{d1, d2} {
		if bytes.Equal(d.KeyRef, d0.KeyRef) {
			t.Errorf("record %d sealed after Shred returned uses the shredded DEK %x", i+1, d.KeyRef)
		}
	}
	reader := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	for i, p := range [][2][]byte{{desc1, sealed1}, {desc2, sealed2}} {
		if _, err := open(reader, p[0], p[1]); err != nil {
			t.Errorf("Open(record %d, sealed without error) err = %v, want it readable", i+1, err)
		}
	}
}

// Quarantine and Shred (what a purge does) while another Ring wraps the
// subject's next generation: the new DEK must not survive the purge.
func TestShredCatchesConcurrentGeneration(t *testing.T) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	admin := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	hk := &hookKEK{KEK: newKEK(t, "patients")}
	producer := newRing(t, []kms.KEK{hk}, keyring.WithKeyStore(store), keyring.MaxRecords(1))
	if _, _, _, err := sealParsed(t, producer, raceSubject); err != nil { // generation 1
		t.Fatal(err)
	}

	hk.onWrap = func() { // generation 2 is being wrapped
		if err := admin.Quarantine(ctx, []byte(raceSubject)); err != nil {
			t.Errorf("Quarantine() err = %v", err)
		}
		if _, err := admin.Shred(ctx, []byte(raceSubject)); err != nil {
			t.Errorf("Shred() err = %v", err)
		}
	}
	d, desc, sealed, err := sealParsed(t, producer, raceSubject)
	if !errors.Is(err, keyring.ErrQuarantined) {
		t.Errorf("SealSubject() during the purge err = %v, want ErrQuarantined", err)
	}
	if err == nil {
		if _, err := open(admin, desc, sealed); err == nil {
			t.Errorf("a record sealed during the purge opens after Quarantine and Shred returned (DEK %x)", d.KeyRef)
		}
	}

	st, err := admin.SubjectState(ctx, []byte(raceSubject))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.DEKIDs) != 0 || !st.Quarantined {
		t.Errorf("SubjectState() = %d DEKs, quarantined %v, want 0 and true", len(st.DEKIDs), st.Quarantined)
	}
}

// A DEK stored after Shred read the subject's entries, by a Ring that saw
// no quarantine, is deleted by Shred's next read.
func TestShredRereadsEntries(t *testing.T) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	admin := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	other := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store), keyring.MaxRecords(1))
	sealSubject(t, other, raceSubject, []byte("v"))

	// MemoryStore calls subscribers inside Delete with no lock held, after
	// Shred's first read: sealing there stores a new DEK before Shred
	// reads again, as another process could.
	var once sync.Once
	var late string
	cancel := store.Subscribe(func(c keyring.Change) {
		if c.Kind == keyring.ChangeDeleted {
			once.Do(func() {
				desc, _ := sealSubject(t, other, raceSubject, []byte("v"))
				late = dekID(t, desc)
			})
		}
	})
	defer cancel()

	res, err := admin.Shred(ctx, []byte(raceSubject))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.DEKIDs) != 2 || res.DEKIDs[1].String() != late {
		t.Errorf("Shred() deleted %v, want the first DEK and then %s", res.IDStrings(), late)
	}
	st, err := admin.SubjectState(ctx, []byte(raceSubject))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.DEKIDs) != 0 || st.Quarantined {
		t.Errorf("SubjectState() = %d DEKs, quarantined %v, want 0 and false", len(st.DEKIDs), st.Quarantined)
	}
}

// A consumer that unwraps a DEK while it is shredded must not cache it:
// the next Open after Shred returned fails.
func TestOpenDuringShredNotCached(t *testing.T) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	admin := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	d, desc, sealed, err := sealParsed(t, admin, raceSubject)
	if err != nil {
		t.Fatal(err)
	}
	hk := &hookKEK{KEK: newKEK(t, "patients")}
	hk.onUnwrap = func() {
		if _, err := admin.Shred(ctx, []byte(raceSubject)); err != nil {
			t.Errorf("Shred() err = %v", err)
		}
	}
	consumer := newRing(t, []kms.KEK{hk}, keyring.WithKeyStore(store))
	if _, err := consumer.Open(ctx, d, desc, nil, sealed, binding); !errors.Is(err, keyring.ErrShredded) {
		t.Errorf("Open() racing Shred err = %v, want ErrShredded", err)
	}
	if _, err := consumer.Open(ctx, d, desc, nil, sealed, binding); !errors.Is(err, keyring.ErrShredded) {
		t.Errorf("Open() after Shred returned err = %v, want ErrShredded", err)
	}
}

// A quarantine that arrives while a Ring unwraps the subject's DEK stops
// the seal that was waiting for it.
func TestQuarantineDuringUnwrap(t *testing.T) {
	ctx := context.Background()
	store := keyring.NewMemoryStore()
	admin := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	sealSubject(t, admin, raceSubject, []byte("v"))
	hk := &hookKEK{KEK: newKEK(t, "patients")}
	hk.onUnwrap = func() {
		if err := admin.Quarantine(ctx, []byte(raceSubject)); err != nil {
			t.Errorf("Quarantine() err = %v", err)
		}
	}
	producer := newRing(t, []kms.KEK{hk}, keyring.WithKeyStore(store))
	if _, _, _, err := sealParsed(t, producer, raceSubject); !errors.Is(err, keyring.ErrQuarantined) {
		t.Errorf("SealSubject() racing Quarantine err = %v, want ErrQuarantined", err)
	}
}

// hookStore calls a hook once after Entries returns. It is a test double
// only to place a concurrent change between a resolve's read of the store
// and its use of a cached DEK, a window the MemoryStore cannot widen.
type hookStore struct {
	*keyring.MemoryStore
	mu        sync.Mutex
	onEntries func()
}

func (h *hookStore) Entries(ctx context.Context, t keyring.Token) ([]keyring.Entry, error) {
	es, err := h.MemoryStore.Entries(ctx, t)
	h.mu.Lock()
	fn := h.onEntries
	h.onEntries = nil
	h.mu.Unlock()
	if fn != nil {
		fn()
	}
	return es, err
}

// A quarantine that arrives while a Ring revalidates a cached DEK stops
// this seal and every later one: the DEK's validity is not extended.
func TestQuarantineDuringRevalidation(t *testing.T) {
	ctx := context.Background()
	store := &hookStore{MemoryStore: keyring.NewMemoryStore()}
	admin := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store))
	producer := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.WithKeyStore(store), keyring.SubjectCacheTTL(10*time.Millisecond))
	sealSubject(t, producer, raceSubject, []byte("v"))
	time.Sleep(20 * time.Millisecond) // the cached DEK expires

	store.mu.Lock()
	store.onEntries = func() {
		if err := admin.Quarantine(ctx, []byte(raceSubject)); err != nil {
			t.Errorf("Quarantine() err = %v", err)
		}
	}
	store.mu.Unlock()
	for i := range 2 {
		if _, _, _, err := sealParsed(t, producer, raceSubject); !errors.Is(err, keyring.ErrQuarantined) {
			t.Errorf("SealSubject() %d after the quarantine err = %v, want ErrQuarantined", i+1, err)
		}
	}
}
