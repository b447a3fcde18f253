package kmstest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

const childEnv = "KMSTEST_BROKEN_KEK_CHILD"

// TestRunCatchesBrokenKEK runs Run against brokenKEK in a child test
// process, because a failing subtest cannot be contained in this one, and
// checks that exactly the expected subtests fail.
func TestRunCatchesBrokenKEK(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		kmstest.Run(t, func(*testing.T) kms.KEK { return brokenKEK{} })
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunCatchesBrokenKEK$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("Run passed brokenKEK, want failures; output:\n%s", out)
	}
	wants := []string{
		"--- PASS: TestRunCatchesBrokenKEK/RoundTrip",
		"--- PASS: TestRunCatchesBrokenKEK/Concurrent",
		"--- FAIL: TestRunCatchesBrokenKEK/ContextMismatch/other_topic",
		"--- FAIL: TestRunCatchesBrokenKEK/ContextMismatch/nil",
		"--- FAIL: TestRunCatchesBrokenKEK/Tampered/last_byte",
		"--- FAIL: TestRunCatchesBrokenKEK/Tampered/empty",
		"error message contains the data key in hex form",
		"want a *kms.Error",
		"want an error",
	}
	for _, want := range wants {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q; output:\n%s", want, out)
		}
	}
}

// brokenKEK round-trips keys but ignores tampering, returns plain errors
// and prints the data key in them: the faults Run exists to catch. Its
// ciphertext is a length-prefixed copy of the context and the key XOR 0x55.
type brokenKEK struct{}

func (brokenKEK) Name() string { return "broken" }

func (brokenKEK) Wrap(_ context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	ecBytes := ec.Bytes()
	ct := binary.BigEndian.AppendUint32(nil, uint32(len(ecBytes)))
	ct = append(ct, ecBytes...)
	for _, b := range dek {
		ct = append(ct, b^0x55)
	}
	return kms.Wrapped{Version: 1, Ciphertext: ct}, nil
}

func (brokenKEK) Unwrap(_ context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	ct := w.Ciphertext
	if len(ct) < 4 || int(binary.BigEndian.Uint32(ct)) > len(ct)-4 {
		return nil, errors.New("short ciphertext")
	}
	n := int(binary.BigEndian.Uint32(ct))
	var dek []byte
	for _, b := range ct[4+n:] {
		dek = append(dek, b^0x55)
	}
	if !bytes.Equal(ct[4:4+n], ec.Bytes()) {
		return nil, fmt.Errorf("context mismatch for key %x", dek)
	}
	return dek, nil
}

func newKEK(t *testing.T) *keyfile.KEK {
	t.Helper()
	kek, err := keyfile.FromBytes("lab-results", bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

func TestCountingConformance(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.KEK { return kmstest.NewCounting(newKEK(t)) })
}

func TestFaultyConformance(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.KEK { return kmstest.NewFaulty(newKEK(t)) })
}

func TestCountingCounts(t *testing.T) {
	c := kmstest.NewCounting(newKEK(t))
	ec := kms.EncryptionContext{"topic": "T"}
	for range 3 {
		w, err := c.Wrap(t.Context(), []byte("data key"), ec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Unwrap(t.Context(), w, ec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PrimaryVersion(t.Context()); err != nil {
		t.Fatalf("PrimaryVersion(ctx) err = %v, want nil", err)
	}
	if c.Wraps() != 3 || c.Unwraps() != 3 || c.PrimaryVersions() != 1 {
		t.Errorf("Wraps, Unwraps, PrimaryVersions = %d, %d, %d, want 3, 3, 1", c.Wraps(), c.Unwraps(), c.PrimaryVersions())
	}
	if c.Name() != "lab-results" {
		t.Errorf("Name() = %q, want %q", c.Name(), "lab-results")
	}
}

func TestCountingNotVersioned(t *testing.T) {
	c := kmstest.NewCounting(brokenKEK{})
	_, err := c.PrimaryVersion(t.Context())
	if !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("PrimaryVersion(ctx) of a KEK without versions err = %v, want ErrInvalidConfig", err)
	}
}

func TestFaultyFailsNextCalls(t *testing.T) {
	f := kmstest.NewFaulty(newKEK(t))
	ec := kms.EncryptionContext{"topic": "T"}
	w, err := f.Wrap(t.Context(), []byte("data key"), ec)
	if err != nil {
		t.Fatal(err)
	}

	f.Fail(kms.ErrUnavailable, 2)
	_, err = f.Unwrap(t.Context(), w, ec)
	checkInjected(t, err, kms.OpUnwrap, kms.ErrUnavailable)
	_, err = f.PrimaryVersion(t.Context())
	checkInjected(t, err, kms.OpVersion, kms.ErrUnavailable)
	if _, err := f.Unwrap(t.Context(), w, ec); err != nil {
		t.Errorf("Unwrap(ctx) after the 2 injected faults err = %v, want nil", err)
	}
}

func TestFaultyFailsUntilReset(t *testing.T) {
	f := kmstest.NewFaulty(newKEK(t))
	ec := kms.EncryptionContext{"topic": "T"}
	f.Fail(kms.ErrThrottled, -1)
	for range 5 {
		_, err := f.Wrap(t.Context(), []byte("data key"), ec)
		checkInjected(t, err, kms.OpWrap, kms.ErrThrottled)
	}
	f.Reset()
	if _, err := f.Wrap(t.Context(), []byte("data key"), ec); err != nil {
		t.Errorf("Wrap(ctx) after Reset err = %v, want nil", err)
	}
}

func checkInjected(t *testing.T, err error, op kms.Op, kind error) {
	t.Helper()
	var kerr *kms.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("%s err = %v, want *kms.Error", op, err)
	}
	if !errors.Is(err, kind) || !errors.Is(err, kmstest.ErrInjected) {
		t.Errorf("%s err = %v, want %v caused by ErrInjected", op, err, kind)
	}
	if kerr.Op != op || kerr.KEK != "lab-results" {
		t.Errorf("%s err Op, KEK = %q, %q, want %q, %q", op, kerr.Op, kerr.KEK, op, "lab-results")
	}
	if !kerr.Retryable() {
		t.Errorf("%s err = %v, want retryable", op, err)
	}
}

func TestFaultyFailNilKindPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Fail(nil, 1) did not panic")
		}
	}()
	kmstest.NewFaulty(newKEK(t)).Fail(nil, 1)
}

// recorder is a testing.TB that records Errorf calls, so CheckNoLeak's
// reports can be inspected without failing this test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckNoLeak(t *testing.T) {
	secret := []byte("a recognisable secret data key!!")
	tests := map[string]struct {
		msg  string
		want int
	}{
		"clean":         {"unwrap failed", 0},
		"raw":           {"unwrap failed: " + string(secret), 1},
		"hex":           {fmt.Sprintf("unwrap failed: %x", secret), 1},
		"uppercase hex": {fmt.Sprintf("unwrap failed: %X", secret), 1},
		"base64":        {"unwrap failed: YSByZWNvZ25pc2FibGUgc2VjcmV0IGRhdGEga2V5ISE=", 1},
	}
	for name, tc := range tests {
		r := &recorder{TB: t}
		kmstest.CheckNoLeak(r, errors.New(tc.msg), secret)
		if len(r.errors) != tc.want {
			t.Errorf("%s: CheckNoLeak reported %d leaks, want %d", name, len(r.errors), tc.want)
		}
		for _, e := range r.errors {
			if strings.Contains(e, string(secret)) {
				t.Errorf("%s: CheckNoLeak report repeats the secret", name)
			}
		}
	}
}
