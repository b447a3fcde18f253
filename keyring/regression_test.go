package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// gatedKEK holds every Wrap until gate is closed or the caller's context
// ends, as a network KMS does. It is a test double: a key file KEK returns
// at once and ignores its context, so it cannot keep a wrap in flight.
type gatedKEK struct {
	kms.KEK
	gate    chan struct{}
	entered chan struct{}
}

func (g *gatedKEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.gate:
		return g.KEK.Wrap(ctx, dek, ec)
	case <-ctx.Done():
		return kms.Wrapped{}, &kms.Error{Op: kms.OpWrap, KEK: g.Name(), Kind: kms.ErrUnavailable, Cause: ctx.Err()}
	}
}

// TestMaxBytesBelowRecord seals one value larger than MaxBytes. Every new
// DEK would be retired by the same value, so Seal must fail, not loop.
func TestMaxBytesBelowRecord(t *testing.T) {
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	r := newRing(t, []kms.KEK{counting}, keyring.MaxBytes(10))

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := r.Seal(ctx, "patients", envelope.PayloadValue, nil, make([]byte, 11), binding)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("Seal(11 bytes, MaxBytes 10) err = nil, want an error")
		}
	case <-time.After(3 * time.Second):
		t.Errorf("Seal(11 bytes, MaxBytes 10) did not return after 3s (ctx ended after 1s); wraps so far = %d", counting.Wraps())
	}
	if n := counting.Wraps(); n > 2 {
		t.Errorf("wraps = %d for one rejected value, want at most 2", n)
	}
}

// TestMaxRecordsOneConcurrent seals from many goroutines with one
// record per DEK and checks that no DEK sealed twice and all values open.
func TestMaxRecordsOneConcurrent(t *testing.T) {
	counting := kmstest.NewCounting(newKEK(t, "patients"))
	r := newRing(t, []kms.KEK{counting}, keyring.MaxRecords(1))
	reader := newRing(t, []kms.KEK{newKEK(t, "patients")})

	const workers, each = 64, 20
	type out struct{ desc, sealed []byte }
	results := make(chan out, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				desc, sealed, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("v"), binding)
				if err != nil {
					t.Errorf("Seal() err = %v", err)
					return
				}
				results <- out{desc, sealed}
			}
		})
	}
	wg.Wait()
	close(results)

	seen := map[string]bool{}
	for o := range results {
		if seen[string(o.desc)] {
			t.Fatalf("two values sealed under one descriptor with MaxRecords(1)")
		}
		seen[string(o.desc)] = true
		if _, err := open(reader, o.desc, o.sealed); err != nil {
			t.Fatalf("Open() err = %v", err)
		}
	}
	if len(seen) != workers*each || counting.Wraps() != workers*each {
		t.Errorf("sealed %d values with %d wraps, want %d of each", len(seen), counting.Wraps(), workers*each)
	}
}

// TestCanceledLeaderWrap cancels the goroutine whose wrap is in
// flight; a waiter with a live context must still get a DEK, and the
// cancellation must not be remembered as a KMS failure.
func TestCanceledLeaderWrap(t *testing.T) {
	g := &gatedKEK{KEK: newKEK(t, "patients"), gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	r := newRing(t, []kms.KEK{g}, keyring.FailureBackoff(time.Hour))

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, _, err := r.Seal(leaderCtx, "patients", envelope.PayloadValue, nil, []byte("a"), binding)
		leaderErr <- err
	}()
	<-g.entered

	waiterErr := make(chan error, 1)
	go func() {
		_, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("b"), binding)
		waiterErr <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancelLeader()
	if err := <-leaderErr; err == nil {
		t.Errorf("Seal(canceled ctx) err = nil, want a context error")
	}
	<-g.entered
	close(g.gate)
	select {
	case err := <-waiterErr:
		if err != nil {
			t.Errorf("Seal(live ctx) after the leader was canceled err = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Seal(live ctx) did not return after the leader was canceled")
	}
}

// TestFaultyRecovers fails every wrap, then lets the KMS recover, and
// checks the error kinds and the back-off.
func TestFaultyRecovers(t *testing.T) {
	f := kmstest.NewFaulty(newKEK(t, "patients"))
	r := newRing(t, []kms.KEK{f}, keyring.FailureBackoff(50*time.Millisecond))
	f.Fail(kms.ErrUnavailable, -1)
	_, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("a"), binding)
	if !errors.Is(err, kms.ErrUnavailable) || !kms.IsRetryable(err) {
		t.Fatalf("Seal(KMS down) err = %v, want a retryable ErrUnavailable", err)
	}
	f.Reset()
	time.Sleep(60 * time.Millisecond)
	if _, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("a"), binding); err != nil {
		t.Fatalf("Seal(after back-off) err = %v, want nil", err)
	}
}

// TestForgedVersionPoisonsUnwrap opens a forged descriptor that
// reuses a real EDEK with another KEK version, then the real record. The
// failure of the forged one must not fail the real one.
func TestForgedVersionPoisonsUnwrap(t *testing.T) {
	producer := newRing(t, []kms.KEK{newKEK(t, "patients")})
	desc, sealed := seal(t, producer, "patients", []byte("observation"))
	d, err := envelope.Parse(desc)
	if err != nil {
		t.Fatal(err)
	}

	consumer := newRing(t, []kms.KEK{newKEK(t, "patients")}, keyring.FailureBackoff(time.Minute))
	forged := d
	forged.KEKVersion = d.KEKVersion + 1
	forged.KeyRef = bytes.Clone(d.KeyRef)
	forgedDesc, err := forged.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consumer.Open(context.Background(), forged, forgedDesc, nil, sealed, binding); err == nil {
		t.Fatal("Open(forged version) err = nil, want an error")
	}
	if _, err := open(consumer, desc, sealed); err != nil {
		t.Errorf("Open(real record after a forged one) err = %v, want nil", err)
	}
}

// TestCloseDuringUse closes the Ring while goroutines seal and open.
// Every call must succeed or fail with ErrClosed, without a panic or race.
func TestCloseDuringUse(t *testing.T) {
	r, err := keyring.New([]kms.KEK{newKEK(t, "patients")}, keyring.MaxRecords(3))
	if err != nil {
		t.Fatal(err)
	}
	desc, sealed := seal(t, r, "patients", []byte("x"))
	var other atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 200 {
				_, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("y"), binding)
				if err != nil && !errors.Is(err, keyring.ErrClosed) {
					other.Add(1)
				}
				if _, err := open(r, desc, sealed); err != nil && !errors.Is(err, keyring.ErrClosed) {
					other.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	r.Close()
	wg.Wait()
	if n := other.Load(); n != 0 {
		t.Errorf("%d calls failed with an error other than ErrClosed", n)
	}
}

// TestNilKEK passes a nil KEK, as happens when a constructor's error
// is ignored. New must return an error, not panic.
func TestNilKEK(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("keyring.New([]kms.KEK{nil}) panicked: %v, want an error", r)
		}
	}()
	if _, err := keyring.New([]kms.KEK{nil}); err == nil {
		t.Errorf("keyring.New([]kms.KEK{nil}) err = nil, want an error")
	}
}

// TestDestroyedCachedDEK destroys the DEK that Ring.DEK returned, as
// a caller tidying up key material might. The Ring's own later Opens must
// not panic.
func TestDestroyedCachedDEK(t *testing.T) {
	r := newRing(t, []kms.KEK{newKEK(t, "patients")})
	desc, sealed := seal(t, r, "patients", []byte("x"))
	d, err := envelope.Parse(desc)
	if err != nil {
		t.Fatal(err)
	}
	dek, err := r.DEK(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	dek.Destroy()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Ring.Open after the caller destroyed the DEK from Ring.DEK panicked: %v", p)
		}
	}()
	if _, err := open(r, desc, sealed); err != nil {
		t.Logf("Open() err = %v", err)
	}
}

// swappingKEK wraps a fresh random key instead of the one it is given, as
// a faulty KMS might; a test double because no real KMS does this on
// demand.
type swappingKEK struct{ kms.KEK }

func (s swappingKEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	return s.KEK.Wrap(ctx, envelope.NewDEK().Bytes(), ec)
}

func TestSealRejectsWrongWrappedKey(t *testing.T) {
	r := newRing(t, []kms.KEK{swappingKEK{newKEK(t, "patients")}})
	_, _, err := r.Seal(context.Background(), "patients", envelope.PayloadValue, nil, []byte("v"), binding)
	if !errors.Is(err, kms.ErrInvalidResponse) {
		t.Fatalf("Seal() with a KMS that wraps another key err = %v, want ErrInvalidResponse", err)
	}
}
