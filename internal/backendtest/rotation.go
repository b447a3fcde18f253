package backendtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// rotationCheck is the RotationCheck interval of the rotation scenario.
// rotationBound is how long new records may keep the old version after the
// KEK rotates. It allows one interval for the check to run and one more in
// case the ticker fired just before the rotation. A further second covers
// the PrimaryVersion and Wrap calls, and the test adds the scheduling
// stalls it measured.
const (
	rotationCheck = 50 * time.Millisecond
	rotationBound = 2*rotationCheck + time.Second
)

// rotate rotates key, or skips the test when the backend cannot.
func rotate(t *testing.T, key *Key) {
	t.Helper()
	if key.Rotate == nil {
		t.Skipf("cannot rotate on demand: %s", key.RotateNote)
	}
	if err := key.Rotate(t.Context()); err != nil {
		t.Fatalf("rotate KEK %s: %v", key.KEK.Name(), err)
	}
}

// primary returns the KEK's primary version, or skips the test for a KEK
// without visible versions.
func primary(t *testing.T, kek kms.KEK) uint32 {
	t.Helper()
	v, ok := kek.(kms.Versioned)
	if !ok {
		t.Skip("the KEK does not implement kms.Versioned, so the Ring cannot see its versions")
	}
	n, err := v.PrimaryVersion(t.Context())
	if err != nil {
		t.Fatalf("PrimaryVersion(ctx) err = %v, want nil", err)
	}
	return n
}

// sealVersion seals a probe value with ring and returns the KEK version of
// the DEK that sealed it.
func sealVersion(t *testing.T, ring *keyring.Ring, kekName string) uint32 {
	t.Helper()
	return sealDescriptor(t, ring, kekName).KEKVersion
}

// sealDescriptor seals a probe value with ring and returns its descriptor.
func sealDescriptor(t *testing.T, ring *keyring.Ring, kekName string) envelope.Descriptor {
	t.Helper()
	desc, _, err := ring.Seal(t.Context(), kekName, envelope.PayloadValue, nil, []byte("probe"),
		envelope.Binding{Topic: "probe"})
	if err != nil {
		t.Fatalf("Seal(ctx) err = %v, want nil", err)
	}
	d, err := envelope.Parse(desc)
	if err != nil {
		t.Fatalf("envelope.Parse(desc) err = %v", err)
	}
	return d
}

// generation returns the key material generation that wrapped the DEK of
// d: Key.Generation of its wrapped key, or else its KEK version.
func generation(key *Key, d envelope.Descriptor) uint32 {
	if key.Generation != nil {
		return key.Generation(kms.Wrapped{Version: d.KEKVersion, Ciphertext: d.KeyRef})
	}
	return d.KEKVersion
}

// checkVersions reads topic with a new Ring, so that every DEK is
// unwrapped from the KMS, and checks each record's value and KEK version.
func checkVersions(t *testing.T, c *cluster, kek kms.KEK, topic string, want map[string]uint32) {
	t.Helper()
	got, err := pollN(t, c.consumer(newRing(t, kek), topic), len(want))
	if err != nil {
		t.Fatalf("Poll() err = %v, want every record, old versions included, to decrypt", err)
	}
	for _, r := range got {
		v, ok := want[string(r.Value)]
		if !ok {
			t.Errorf("record at offset %d has an unexpected value", r.Offset)
			continue
		}
		if r.KEKVersion != v {
			t.Errorf("record at offset %d KEKVersion = %d, want %d", r.Offset, r.KEKVersion, v)
		}
	}
}

// testRotationCheck checks that after the KEK rotates, new records use the
// new version within rotationBound, and that older records still decrypt.
func testRotationCheck(t *testing.T, key *Key) {
	name := key.KEK.Name()
	v1 := primary(t, key.KEK)
	c := newCluster(t, "rotation")
	ring := newRing(t, key.KEK, keyring.RotationCheck(rotationCheck))
	p := c.producer(ring, name)
	produceValues(t, p, "rotation", "before")

	stalls := startStallMeter(t)
	rotate(t, key)
	v2 := primary(t, key.KEK)
	if v2 == v1 {
		t.Fatalf("PrimaryVersion(ctx) = %d after rotation, want a new version", v2)
	}
	start := time.Now()
	for sealVersion(t, ring, name) != v2 {
		if bound := rotationBound + stalls.max(); time.Since(start) > bound {
			t.Fatalf("records still use version %d %v after rotation, want at most %v with RotationCheck %v", v1, time.Since(start), bound, rotationCheck)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("new records use version %d %v after rotation (RotationCheck %v)", v2, time.Since(start), rotationCheck)

	produceValues(t, p, "rotation", "after")
	checkVersions(t, c, key.KEK, "rotation", map[string]uint32{"before": v1, "after": v2})
}

// RunForcedRotation runs only the scenario of Ring.Rotate after a KEK
// rotation, for a backend whose rotation needs a setup of its own, such as
// a private server with a rotation schedule.
func RunForcedRotation(t *testing.T, key *Key) { testRotationForced(t, key) }

// testRotationForced checks that Ring.Rotate makes the next record use the
// KEK's new key material at once, with the periodic check turned off, and
// that records under the old material still decrypt.
func testRotationForced(t *testing.T, key *Key) {
	if key.Rotate == nil {
		t.Skipf("cannot rotate on demand: %s", key.RotateNote)
	}
	name := key.KEK.Name()
	c := newCluster(t, "rotation")
	ring := newRing(t, key.KEK, keyring.RotationCheck(0))
	p := c.producer(ring, name)
	produceValues(t, p, "rotation", "before")
	g1 := generation(key, sealDescriptor(t, ring, name))

	rotate(t, key)
	if g := generation(key, sealDescriptor(t, ring, name)); g != g1 {
		t.Errorf("generation before Ring.Rotate = %d, want %d: with RotationCheck(0) only Rotate replaces the DEK", g, g1)
	}
	if err := ring.Rotate(name); err != nil {
		t.Fatalf("Ring.Rotate(%s) err = %v, want nil", name, err)
	}
	g2 := generation(key, sealDescriptor(t, ring, name))
	if g2 == g1 {
		t.Fatalf("generation right after Ring.Rotate = %d, want the rotated key's", g2)
	}
	if v, ok := key.KEK.(kms.Versioned); ok {
		if p, err := v.PrimaryVersion(t.Context()); err != nil || g2 != p {
			t.Errorf("version right after Ring.Rotate = %d, want primary version %d (%v)", g2, p, err)
		}
	}

	produceValues(t, p, "rotation", "after")
	for i, r := range c.raw("rotation", 2) {
		if g, want := generation(key, descriptorOf(t, r)), []uint32{g1, g2}[i]; g != want {
			t.Errorf("record at offset %d has generation %d, want %d", r.Offset, g, want)
		}
	}
	got, err := pollN(t, c.consumer(newRing(t, key.KEK), "rotation"), 2)
	if err != nil {
		t.Fatalf("Poll() err = %v, want records under the old and new key material to decrypt", err)
	}
	checkValues(t, got, "before", "after")
}

// testMinVersion checks that a lagging consumer meeting a record below the
// KEK's minimum version gets kms.ErrVersionTooOld inside a
// *kafka.RecordError that names the record, under Fail and Skip.
func testMinVersion(t *testing.T, key *Key) {
	if key.SetMinVersion == nil {
		t.Skipf("no minimum decryption version: %s", key.MinVersionNote)
	}
	name := key.KEK.Name()
	c := newCluster(t, "lagging")
	ring := newRing(t, key.KEK, keyring.RotationCheck(0))
	p := c.producer(ring, name)
	v1 := primary(t, key.KEK)
	produceValues(t, p, "lagging", "old-0", "old-1")
	rotate(t, key)
	if err := ring.Rotate(name); err != nil {
		t.Fatalf("Ring.Rotate(%s) err = %v", name, err)
	}
	v2 := primary(t, key.KEK)
	produceValues(t, p, "lagging", "new-2", "new-3")
	if err := key.SetMinVersion(t.Context(), v2); err != nil {
		t.Fatalf("set minimum version %d: %v", v2, err)
	}

	// Fail: the consumer stops at offset 0 and stays there.
	failing := c.consumer(newRing(t, key.KEK), "lagging")
	for range 2 {
		checkTooOld(t, pollErr(t, failing), 0, v1, v2)
	}

	// Skip: offsets 0 and 1 reach the callback, 2 and 3 decrypt.
	var skipped []error
	skipping := c.consumer(newRing(t, key.KEK), "lagging", kafka.OnDecryptError(kafka.Skip(
		func(_ *kgo.Record, err error) { skipped = append(skipped, err) })))
	got, err := pollN(t, skipping, 2)
	if err != nil {
		t.Fatalf("Poll() under Skip err = %v, want nil", err)
	}
	if len(skipped) != 2 {
		t.Fatalf("Skip callback ran %d times, want 2", len(skipped))
	}
	for i, err := range skipped {
		checkTooOld(t, err, int64(i), v1, v2)
	}
	for _, r := range got {
		if r.KEKVersion != v2 {
			t.Errorf("record at offset %d KEKVersion = %d, want %d", r.Offset, r.KEKVersion, v2)
		}
	}
}

// checkTooOld checks that err is a *kafka.RecordError at offset in
// partition 0 of topic lagging, wrapping a *kms.Error of kind
// ErrVersionTooOld for version v below minimum.
func checkTooOld(t *testing.T, err error, offset int64, v, minimum uint32) {
	t.Helper()
	rerr := checkRecordError(t, err, "lagging", offset, kms.ErrVersionTooOld)
	if rerr.KEKVersion != v {
		t.Errorf("RecordError.KEKVersion = %d, want %d", rerr.KEKVersion, v)
	}
	var kerr *kms.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("err = %v, want a *kms.Error inside", err)
	}
	if kerr.Version != v || kerr.MinVersion != minimum {
		t.Errorf("kms.Error Version = %d, MinVersion = %d, want %d and %d", kerr.Version, kerr.MinVersion, v, minimum)
	}
}

// checkRecordError checks that err is a *kafka.RecordError for the record
// at offset in partition 0 of topic and that it wraps kind.
func checkRecordError(t *testing.T, err error, topic string, offset int64, kind error) *kafka.RecordError {
	t.Helper()
	var rerr *kafka.RecordError
	if !errors.As(err, &rerr) {
		t.Fatalf("err = %v (%T), want a *kafka.RecordError", err, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("err = %v, want %v", err, kind)
	}
	if rerr.Topic != topic || rerr.Partition != 0 || rerr.Offset != offset {
		t.Errorf("RecordError at %s/%d@%d, want %s/0@%d", rerr.Topic, rerr.Partition, rerr.Offset, topic, offset)
	}
	if rerr.KEKName == "" {
		t.Error("RecordError.KEKName is empty, want the KEK that the record names")
	}
	return rerr
}

// testWrapContext checks the encryption context through the keyring: a
// consumer whose Ring binds the same context reads the records, and one
// with another or no context gets kms.ErrContextMismatch.
func testWrapContext(t *testing.T, key *Key) {
	ec := kms.EncryptionContext{"topic": "T"}
	c := newCluster(t, "T")
	p := c.producer(newRing(t, key.KEK, keyring.WrapContext(ec)), key.KEK.Name())
	produceValues(t, p, "T", "bound")

	got, err := pollN(t, c.consumer(newRing(t, key.KEK, keyring.WrapContext(ec)), "T"), 1)
	if err != nil || string(got[0].Value) != "bound" {
		t.Fatalf("Poll() with the same context = %v, want the record", err)
	}
	for _, other := range []kms.EncryptionContext{{"topic": "U"}, {"Topic": "T"}, nil} {
		ring := newRing(t, key.KEK, keyring.WrapContext(other))
		err := pollErr(t, c.consumer(ring, "T"))
		checkRecordError(t, err, "T", 0, kms.ErrContextMismatch)
		if kms.IsRetryable(err) {
			t.Errorf("context %v: err = %v, want a permanent error", other, err)
		}
	}
}

// runCtx returns a context for one step of a scenario.
func runCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
