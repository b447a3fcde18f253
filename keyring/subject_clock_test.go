package keyring_test

import (
	"context"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// deafStore is a MemoryStore whose subscribers hear nothing: a test double
// for a store that misses a deletion report, which MemoryStore never
// does. Only the cache TTL can then make a Ring drop a shredded DEK.
type deafStore struct{ *keyring.MemoryStore }

func (deafStore) Subscribe(func(keyring.Change)) (cancel func()) { return func() {} }

// A warm SealSubject reads a clock that advances in steps rather than
// calling time.Now. A Ring that misses the report of a Shred must still
// stop sealing under the shredded DEK once SubjectCacheTTL and one step
// have passed.
func TestWarmSealStopsAfterTTLWithoutReport(t *testing.T) {
	const ttl = 100 * time.Millisecond
	mem := keyring.NewMemoryStore()
	keks := []kms.KEK{newKEK(t, "patients")}
	producer := newRing(t, keks, keyring.WithKeyStore(deafStore{mem}), keyring.SubjectCacheTTL(ttl))
	admin := newRing(t, keks, keyring.WithKeyStore(mem))

	before, _ := sealSubject(t, producer, raceSubject, []byte("v"))
	sealSubject(t, producer, raceSubject, []byte("v")) // warm: from the hot cache
	if _, err := admin.Shred(context.Background(), []byte(raceSubject)); err != nil {
		t.Fatal(err)
	}
	// ttl/16 is the clock's step; 50 ms more covers a late tick.
	time.Sleep(ttl + ttl/16 + 50*time.Millisecond)
	after, _ := sealSubject(t, producer, raceSubject, []byte("v"))
	if dekID(t, after) == dekID(t, before) {
		t.Fatalf("SealSubject still used the shredded DEK %s %v after Shred, with a cache TTL of %v", dekID(t, before), ttl+ttl/16+50*time.Millisecond, ttl)
	}
}
