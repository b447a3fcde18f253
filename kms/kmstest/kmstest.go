// Package kmstest tests kms.KEK implementations. Run checks the behaviour
// that every backend must share. Counting and Faulty wrap a real KEK so that
// other packages' tests can count KMS calls and inject faults.
package kmstest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
)

// secret is the data key that Run wraps. It is readable text, so a leak in
// an error message is easy to find in raw, hex or base64 form.
var secret = []byte("kmstest: secret data key 32 byte")

// Run runs the conformance tests, each as a subtest of t, against KEKs that
// newKEK builds. Each subtest calls newKEK once with its own *testing.T, so
// newKEK can register cleanup with t.Cleanup.
//
// The subtests check that Wrap and Unwrap round-trip a 32-byte key under
// {"topic": "T"}, that a different or nil context fails with
// kms.ErrContextMismatch, that an altered wrapped key fails permanently,
// that no error message contains the data key, and that 16 goroutines can
// wrap and unwrap at once (run with -race).
func Run(t *testing.T, newKEK func(t *testing.T) kms.KEK) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newKEK(t)) })
	t.Run("ContextMismatch", func(t *testing.T) { testContextMismatch(t, newKEK(t)) })
	t.Run("Tampered", func(t *testing.T) { testTampered(t, newKEK(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newKEK(t)) })
}

// CheckNoLeak reports an error on t when the message of err contains
// secret as raw bytes, lowercase or uppercase hex, or standard base64. The
// report does not repeat the message.
func CheckNoLeak(t testing.TB, err error, secret []byte) {
	t.Helper()
	if err == nil || len(secret) == 0 {
		return
	}
	msg := err.Error()
	forms := []struct{ name, text string }{
		{"raw", string(secret)},
		{"hex", hex.EncodeToString(secret)},
		{"uppercase hex", string(bytes.ToUpper([]byte(hex.EncodeToString(secret))))},
		{"base64", base64.StdEncoding.EncodeToString(secret)},
	}
	for _, f := range forms {
		if bytes.Contains([]byte(msg), []byte(f.text)) {
			t.Errorf("error message contains the data key in %s form", f.name)
		}
	}
}

func topicT() kms.EncryptionContext { return kms.EncryptionContext{"topic": "T"} }

// wrapSecret wraps a copy of secret under ec and clears the copy, so a
// backend that keeps a reference to the caller's buffer fails the round trip.
func wrapSecret(t *testing.T, kek kms.KEK, ec kms.EncryptionContext) kms.Wrapped {
	t.Helper()
	dek := bytes.Clone(secret)
	w, err := kek.Wrap(t.Context(), dek, ec)
	clear(dek)
	if err != nil {
		CheckNoLeak(t, err, secret)
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}
	return w
}

func testRoundTrip(t *testing.T, kek kms.KEK) {
	w := wrapSecret(t, kek, topicT())
	if len(w.Ciphertext) == 0 {
		t.Fatal("Wrap(ctx) Ciphertext is empty, want the wrapped key")
	}
	if bytes.Contains(w.Ciphertext, secret) {
		t.Error("Wrap(ctx) Ciphertext contains the data key in the clear")
	}
	if v, ok := kek.(kms.Versioned); ok {
		primary, err := v.PrimaryVersion(t.Context())
		if err != nil {
			t.Fatalf("PrimaryVersion(ctx) err = %v, want nil", err)
		}
		if w.Version != primary {
			t.Errorf("Wrap(ctx) Version = %d, want primary version %d", w.Version, primary)
		}
	}

	got, err := kek.Unwrap(t.Context(), w, topicT())
	if err != nil {
		t.Fatalf("Unwrap(ctx) err = %v, want nil", err)
	}
	if !bytes.Equal(got, secret) {
		t.Error("Unwrap(ctx) returned a different key from the one wrapped")
	}
}

func testContextMismatch(t *testing.T, kek kms.KEK) {
	tests := []struct {
		name         string
		wrap, unwrap kms.EncryptionContext
	}{
		{"other topic", topicT(), kms.EncryptionContext{"topic": "U"}},
		{"other key", topicT(), kms.EncryptionContext{"Topic": "T"}},
		{"nil", topicT(), nil},
		{"empty", topicT(), kms.EncryptionContext{}},
		{"extra pair", topicT(), kms.EncryptionContext{"topic": "T", "partition": "0"}},
		{"wrapped with nil", nil, topicT()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := wrapSecret(t, kek, tc.wrap)
			_, err := kek.Unwrap(t.Context(), w, tc.unwrap)
			if !errors.Is(err, kms.ErrContextMismatch) {
				t.Errorf("Unwrap(ctx) err = %v, want ErrContextMismatch", err)
			}
			checkKMSError(t, kek, err)
		})
	}
}

func testTampered(t *testing.T, kek kms.KEK) {
	tests := []struct {
		name   string
		change func(ct []byte) []byte
	}{
		{"first byte", func(ct []byte) []byte { ct[0] ^= 0x01; return ct }},
		{"middle byte", func(ct []byte) []byte { ct[len(ct)/2] ^= 0x01; return ct }},
		{"last byte", func(ct []byte) []byte { ct[len(ct)-1] ^= 0x01; return ct }},
		{"truncated", func(ct []byte) []byte { return ct[:len(ct)-1] }},
		{"extended", func(ct []byte) []byte { return append(ct, 0) }},
		{"empty", func([]byte) []byte { return []byte{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := wrapSecret(t, kek, topicT())
			w.Ciphertext = tc.change(bytes.Clone(w.Ciphertext))
			dek, err := kek.Unwrap(t.Context(), w, topicT())
			if err == nil {
				t.Fatal("Unwrap(ctx) of an altered wrapped key err = nil, want an error")
			}
			if dek != nil {
				t.Error("Unwrap(ctx) returned key bytes with its error, want nil")
			}
			if kms.IsRetryable(err) {
				t.Errorf("Unwrap(ctx) err = %v, want a permanent error", err)
			}
			checkKMSError(t, kek, err)
		})
	}
}

// checkKMSError checks that a failed Unwrap returns a permanent *kms.Error
// naming kek, without the data key in its message.
func checkKMSError(t *testing.T, kek kms.KEK, err error) {
	t.Helper()
	CheckNoLeak(t, err, secret)
	var kerr *kms.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("Unwrap(ctx) err = %v (%T), want a *kms.Error", err, err)
	}
	if kerr.KEK != kek.Name() {
		t.Errorf("Unwrap(ctx) err.KEK = %q, want %q", kerr.KEK, kek.Name())
	}
	if kerr.Op != kms.OpUnwrap {
		t.Errorf("Unwrap(ctx) err.Op = %q, want %q", kerr.Op, kms.OpUnwrap)
	}
	if kerr.Retryable() {
		t.Errorf("Unwrap(ctx) err = %v, want a permanent error", err)
	}
}

func testConcurrent(t *testing.T, kek kms.KEK) {
	const goroutines, rounds = 16, 8
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ec := kms.EncryptionContext{"topic": "T", "goroutine": strconv.Itoa(g)}
			for r := range rounds {
				dek := bytes.Clone(secret)
				dek[0], dek[1] = byte(g), byte(r)
				w, err := kek.Wrap(t.Context(), dek, ec)
				if err != nil {
					t.Errorf("goroutine %d: Wrap(ctx) err = %v, want nil", g, err)
					return
				}
				got, err := kek.Unwrap(t.Context(), w, ec)
				if err != nil {
					t.Errorf("goroutine %d: Unwrap(ctx) err = %v, want nil", g, err)
					return
				}
				if !bytes.Equal(got, dek) {
					t.Errorf("goroutine %d round %d: Unwrap(ctx) returned a different key", g, r)
				}
			}
		})
	}
	wg.Wait()
}
