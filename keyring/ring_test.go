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
	"github.com/kenvelope/kenvelope/kms/keyfile"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

var binding = envelope.Binding{Topic: "fhir", Key: []byte("patient-1")}

func newKEK(t testing.TB, name string) *keyfile.KEK {
	t.Helper()
	k, err := keyfile.FromBytes(name, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRing(t testing.TB, keks []kms.KEK, opts ...keyring.Opt) *keyring.Ring {
	t.Helper()
	r, err := keyring.New(keks, opts...)
	if err != nil {
		t.Fatalf("keyring.New() err = %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func seal(t testing.TB, r *keyring.Ring, kek string, pt []byte) (desc, sealed []byte) {
	t.Helper()
	desc, sealed, err := r.Seal(context.Background(), kek, envelope.PayloadValue, nil, pt, binding)
	if err != nil {
		t.Fatalf("Seal() err = %v", err)
	}
	return desc, sealed
}

func open(r *keyring.Ring, desc, sealed []byte) ([]byte, error) {
	d, err := envelope.Parse(desc)
	if err != nil {
		return nil, err
	}
	return r.Open(context.Background(), d, desc, nil, sealed, binding)
}

func TestRingRoundTripAcrossRings(t *testing.T) {
	producer := newRing(t, []kms.KEK{newKEK(t, "patients")})
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	consumer := newRing(t, []kms.KEK{counting})

	for i := 0; i < 100; i++ {
		desc, sealed := seal(t, producer, "patients", []byte("observation"))
		got, err := open(consumer, desc, sealed)
		if err != nil || string(got) != "observation" {
			t.Fatalf("Open() = %q, %v, want observation", got, err)
		}
	}
	if n := counting.Unwraps(); n != 1 {
		t.Fatalf("consumer unwraps = %d, want 1 (cached after the first)", n)
	}
}

func TestRingOneDEKForMillionRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("seals a million values")
	}
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	r := newRing(t, []kms.KEK{counting})
	pt := []byte("x")
	dst := make([]byte, 0, 512)
	for i := 0; i < 1_000_000; i++ {
		if _, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, dst, pt, binding); err != nil {
			t.Fatal(err)
		}
	}
	if n := counting.Wraps(); n != 1 {
		t.Fatalf("wraps after 1,000,000 seals = %d, want 1", n)
	}
}

func TestRingWrapsPerRecordLimit(t *testing.T) {
	cases := []struct{ n, limit int }{{1000, 64}, {1000, 1000}, {1001, 1000}, {10, 1}}
	for _, tc := range cases {
		counting := kmstest.NewCounting(newKEK(t, "patients"))
		r := newRing(t, []kms.KEK{counting}, keyring.MaxRecords(uint64(tc.limit)))
		for i := 0; i < tc.n; i++ {
			seal(t, r, "patients", []byte("v"))
		}
		want := int64((tc.n + tc.limit - 1) / tc.limit)
		if got := counting.Wraps(); got != want {
			t.Errorf("wraps for %d records, limit %d = %d, want %d", tc.n, tc.limit, got, want)
		}
	}
}

func TestRingByteLimit(t *testing.T) {
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	r := newRing(t, []kms.KEK{counting}, keyring.MaxBytes(100))
	for i := 0; i < 10; i++ {
		seal(t, r, "patients", make([]byte, 50))
	}
	if got := counting.Wraps(); got != 5 {
		t.Fatalf("wraps for 10 x 50 bytes, limit 100 = %d, want 5", got)
	}
}

func TestRingAgeLimit(t *testing.T) {
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	r := newRing(t, []kms.KEK{counting}, keyring.MaxAge(30*time.Millisecond))
	seal(t, r, "patients", []byte("v"))
	time.Sleep(30 * time.Millisecond)
	// The age timer runs its callback in a goroutine of its own, which a
	// loaded machine may schedule late; poll instead of sleeping longer.
	deadline := time.Now().Add(2 * time.Second)
	for counting.Wraps() < 2 && time.Now().Before(deadline) {
		seal(t, r, "patients", []byte("v"))
		time.Sleep(5 * time.Millisecond)
	}
	if got := counting.Wraps(); got != 2 {
		t.Fatalf("wraps two seconds after a 30ms MaxAge = %d, want 2", got)
	}
}

// slowKEK delays wraps so that concurrent first calls overlap; a test double
// because no real KMS can be made slow on demand.
type slowKEK struct {
	kms.KEK
	delay time.Duration
}

func (s slowKEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	time.Sleep(s.delay)
	return s.KEK.Wrap(ctx, dek, ec)
}

func TestRingOneWrapInFlight(t *testing.T) {
	counting := kmstest.NewCounting(slowKEK{KEK: newKEK(t, "patients"), delay: 50 * time.Millisecond})
	r := newRing(t, []kms.KEK{counting})
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seal(t, r, "patients", []byte("v"))
		}()
	}
	wg.Wait()
	if got := counting.Wraps(); got != 1 {
		t.Fatalf("wraps for 32 concurrent first seals = %d, want 1", got)
	}
}

func TestRingOneUnwrapInFlight(t *testing.T) {
	producer := newRing(t, []kms.KEK{newKEK(t, "patients")})
	desc, sealed := seal(t, producer, "patients", []byte("v"))
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	consumer := newRing(t, []kms.KEK{counting})
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := open(consumer, desc, sealed); err != nil {
				t.Errorf("Open() err = %v", err)
			}
		}()
	}
	wg.Wait()
	if got := counting.Unwraps(); got != 1 {
		t.Fatalf("unwraps for 32 concurrent opens = %d, want 1", got)
	}
}

func TestRingKMSFailureNotCached(t *testing.T) {
	faulty := kmstest.NewFaulty(newKEK(t, "patients"))
	counting := kmstest.NewCounting(faulty)
	r := newRing(t, []kms.KEK{counting}, keyring.FailureBackoff(50*time.Millisecond))

	faulty.Fail(kms.ErrUnavailable, 1000)
	_, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("v"), binding)
	if !errors.Is(err, kms.ErrUnavailable) {
		t.Fatalf("Seal() during outage err = %v, want ErrUnavailable", err)
	}
	_, _, err = r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("v"), binding)
	if !errors.Is(err, kms.ErrUnavailable) {
		t.Fatalf("Seal() within back-off err = %v, want ErrUnavailable", err)
	}
	if got := counting.Wraps(); got != 1 {
		t.Fatalf("wraps within the back-off = %d, want 1", got)
	}

	faulty.Reset()
	time.Sleep(60 * time.Millisecond)
	if _, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("v"), binding); err != nil {
		t.Fatalf("first Seal() after recovery err = %v, want nil", err)
	}
}

func TestRingCachedDEKSurvivesOutage(t *testing.T) {
	producer := newRing(t, []kms.KEK{newKEK(t, "patients")})
	desc, sealed := seal(t, producer, "patients", []byte("v"))
	faulty := kmstest.NewFaulty(newKEK(t, "patients"))
	consumer := newRing(t, []kms.KEK{faulty})
	if _, err := open(consumer, desc, sealed); err != nil {
		t.Fatal(err)
	}
	faulty.Fail(kms.ErrUnavailable, 1000)
	if _, err := open(consumer, desc, sealed); err != nil {
		t.Fatalf("Open() of a cached DEK during outage err = %v, want nil", err)
	}
}

func TestRingCacheTTL(t *testing.T) {
	producer := newRing(t, []kms.KEK{newKEK(t, "patients")})
	desc, sealed := seal(t, producer, "patients", []byte("v"))
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	consumer := newRing(t, []kms.KEK{counting}, keyring.CacheTTL(30*time.Millisecond))
	open(consumer, desc, sealed)
	time.Sleep(50 * time.Millisecond)
	if _, err := open(consumer, desc, sealed); err != nil {
		t.Fatal(err)
	}
	if got := counting.Unwraps(); got != 2 {
		t.Fatalf("unwraps after the TTL = %d, want 2", got)
	}
}

func TestRingCacheBounded(t *testing.T) {
	producer := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.MaxRecords(1))
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	consumer := newRing(t, []kms.KEK{counting}, keyring.CacheSize(2))
	var records [][2][]byte
	for i := 0; i < 3; i++ {
		d, s := seal(t, producer, "patients", []byte("v"))
		records = append(records, [2][]byte{d, s})
	}
	for _, rec := range records {
		open(consumer, rec[0], rec[1])
	}
	open(consumer, records[0][0], records[0][1]) // evicted by the third
	if got := counting.Unwraps(); got != 4 {
		t.Fatalf("unwraps with a cache of 2 and 3 DEKs = %d, want 4", got)
	}
}

func TestRingUnknownKEK(t *testing.T) {
	producer := newRing(t, []kms.KEK{newKEK(t, "claims")})
	consumer := newRing(t, []kms.KEK{newKEK(t, "patients")})
	desc, sealed := seal(t, producer, "claims", []byte("v"))
	var unknown *keyring.UnknownKEKError
	if _, err := open(consumer, desc, sealed); !errors.As(err, &unknown) || unknown.Name != "claims" {
		t.Fatalf("Open() err = %v, want UnknownKEKError for claims", err)
	}
	_, _, err := consumer.Seal(context.Background(), "claims", envelope.PayloadValue, nil, nil, binding)
	if !errors.Is(err, keyring.ErrUnknownKEK) {
		t.Fatalf("Seal(unknown KEK) err = %v, want ErrUnknownKEK", err)
	}
}

func TestRingClosed(t *testing.T) {
	r := newRing(t, []kms.KEK{newKEK(t, "patients")})
	r.Close()
	_, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, nil, binding)
	if !errors.Is(err, keyring.ErrClosed) {
		t.Fatalf("Seal() after Close err = %v, want ErrClosed", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	k := newKEK(t, "patients")
	cases := []struct {
		name string
		keks []kms.KEK
		opts []keyring.Opt
	}{
		{"no KEK", nil, nil},
		{"duplicate name", []kms.KEK{k, newKEK(t, "patients")}, nil},
		{"records above 2^32", []kms.KEK{k}, []keyring.Opt{keyring.MaxRecords(1<<32 + 1)}},
		{"zero records", []kms.KEK{k}, []keyring.Opt{keyring.MaxRecords(0)}},
		{"zero cache", []kms.KEK{k}, []keyring.Opt{keyring.CacheSize(0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := keyring.New(tc.keks, tc.opts...); err == nil {
				t.Fatal("New() err = nil, want an error")
			}
		})
	}
}
