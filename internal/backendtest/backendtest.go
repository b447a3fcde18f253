// Package backendtest runs the same behaviour scenarios against every KMS
// backend, through a keyring.Ring and the kafka Producer and Consumer on an
// in-process kfake broker. Each backend's test package describes its real
// component (a key file, local-kms, a Vault dev server, the Cloud KMS client
// against gcpfake, a Tink keyset) as a Backend and calls Run.
//
// The scenarios cover rotation by RotationCheck and by Ring.Rotate, with
// old records still readable, and the minimum decryption version. They
// cover the encryption context and wrapped keys that fail validation. KMS
// outages are checked for retries, failing closed, bounded memory,
// recovery and cached DEKs. Destroyed keys are checked under each consumer
// policy. A last scenario checks that no key bytes or record values reach
// an error or a log.
package backendtest

import (
	"context"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// Backend describes one KMS backend for Run.
type Backend struct {
	// Name names the backend in test output, such as "vaulttransit".
	Name string

	// NewKey creates a key that no other test uses, in the backend's real
	// component, and returns it with the operator actions the test can
	// take on it. It registers any cleanup with t.Cleanup.
	NewKey func(t *testing.T) *Key
}

// Key is one KEK under test with the operator actions of its KMS.
type Key struct {
	// KEK is the KEK as an application builds it. Outages apply to it.
	KEK kms.KEK

	// Rotate makes a new key version primary, so that Wrap uses it.
	// Nil when the test cannot rotate the key on demand, and RotateNote
	// then gives the reason.
	Rotate     func(ctx context.Context) error
	RotateNote string

	// Generation returns the number of the key material that wrapped w,
	// for a backend that reports Version 0 but whose wrapped keys name
	// their key material. Nil means that w.Version is that number.
	Generation func(w kms.Wrapped) uint32

	// Destroy destroys, or schedules for deletion, every version that has
	// wrapped a data key so far, so that those data keys cannot be
	// unwrapped again.
	Destroy func(ctx context.Context) error

	// SetMinVersion sets the lowest version that Unwrap accepts. Nil for
	// a backend without a minimum decryption version, and MinVersionNote
	// then gives the reason.
	SetMinVersion  func(ctx context.Context, v uint32) error
	MinVersionNote string

	// Outages maps each fault the test can stage to the Outage that
	// stages it. A missing fault is skipped with the note in
	// OutageNotes.
	Outages     map[Fault]Outage
	OutageNotes map[Fault]string
}

// Fault is a way a KMS fails during an outage.
type Fault int

// Faults that an Outage stages.
const (
	// Unreachable fails each call at once: the connection is refused or
	// reset, or the server reports that it is unavailable.
	Unreachable Fault = iota + 1
	// Hanging leaves each call without a response until the caller's
	// context ends.
	Hanging
	// Throttled rejects each Wrap for rate.
	Throttled
)

func (f Fault) String() string {
	switch f {
	case Unreachable:
		return "Unreachable"
	case Hanging:
		return "Hanging"
	case Throttled:
		return "Throttled"
	default:
		return "Fault(?)"
	}
}

// Outage stages one fault between a Key's KEK and its KMS.
type Outage interface {
	// Begin makes every later call of the fault's kind fail until End.
	Begin(t *testing.T)
	// End restores normal service.
	End(t *testing.T)
}

// FaultyOutage returns an Outage that makes f fail every call with a
// *kms.Error of kind, such as kms.ErrUnavailable, until End. It is for
// backends that do no I/O (a key file, a Tink keyset), where no real outage
// can happen, so the fault comes from a test double.
func FaultyOutage(f *kmstest.Faulty, kind error) Outage { return faultyOutage{f, kind} }

type faultyOutage struct {
	f    *kmstest.Faulty
	kind error
}

func (o faultyOutage) Begin(*testing.T) { o.f.Fail(o.kind, -1) }
func (o faultyOutage) End(*testing.T)   { o.f.Reset() }

// Run runs every scenario as a subtest of t. Each subtest calls b.NewKey
// once, so scenarios never share a key.
func Run(t *testing.T, b Backend) {
	t.Run("Rotation", func(t *testing.T) {
		t.Run("Check", func(t *testing.T) { testRotationCheck(t, b.NewKey(t)) })
		t.Run("Forced", func(t *testing.T) { testRotationForced(t, b.NewKey(t)) })
		t.Run("MinVersion", func(t *testing.T) { testMinVersion(t, b.NewKey(t)) })
	})
	t.Run("WrapContext", func(t *testing.T) { testWrapContext(t, b.NewKey(t)) })
	t.Run("InvalidWrappedKey", func(t *testing.T) { testInvalidWrappedKey(t, b.NewKey(t)) })
	t.Run("Outage", func(t *testing.T) {
		for _, f := range []Fault{Unreachable, Hanging, Throttled} {
			t.Run("Retry"+f.String(), func(t *testing.T) { testRetry(t, b.NewKey(t), f) })
			t.Run("Producer"+f.String(), func(t *testing.T) { testProducerOutage(t, b.NewKey(t), f) })
		}
		t.Run("CachedDEK", func(t *testing.T) { testCachedDEK(t, b.NewKey(t)) })
	})
	t.Run("Destroyed", func(t *testing.T) {
		t.Run("Fail", func(t *testing.T) { testDestroyedFail(t, b.NewKey(t)) })
		t.Run("Skip", func(t *testing.T) { testDestroyedSkip(t, b.NewKey(t)) })
		t.Run("DeadLetter", func(t *testing.T) { testDestroyedDeadLetter(t, b.NewKey(t)) })
	})
	t.Run("NoSecretInLogs", func(t *testing.T) { testNoSecretInLogs(t, b.NewKey(t)) })
}

// outage returns the Outage of key for f, or skips the test.
func outage(t *testing.T, key *Key, f Fault) Outage {
	t.Helper()
	o := key.Outages[f]
	if o == nil {
		note := key.OutageNotes[f]
		if note == "" {
			note = "the backend's test stages no such fault"
		}
		t.Skipf("%v: %s", f, note)
	}
	return o
}

// kindOf returns the kms sentinel error that calls fail with during f.
func kindOf(f Fault) error {
	if f == Throttled {
		return kms.ErrThrottled
	}
	return kms.ErrUnavailable
}
