package keyfile_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// vector is a data key wrapped by version 1 of testdata/v1.json under
// {"topic": "lab-results"}. A change to the wrapped key format or the
// associated data makes TestUnwrapVector fail.
var vector = kms.Wrapped{
	Version:    1,
	Ciphertext: mustHex("0158c4b1fbf577b4ff9c39c80ddc5351bd0e91f6cc715fa7923f950ab8b02753970a8a97abc321ed4671bb7a3a1fbefb5ab2d73a72524fd6649760491e"),
}

var vectorDEK = []byte("frozen vector data key, 32 bytes")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestUnwrapVector(t *testing.T) {
	fromBytes, err := keyfile.FromBytes("lab-results", testKey)
	if err != nil {
		t.Fatal(err)
	}
	keks := map[string]*keyfile.KEK{"bytes": fromBytes, "file": mustOpen(t, copyTestdata(t))}
	for name, kek := range keks {
		got, err := kek.Unwrap(t.Context(), vector, topic)
		if err != nil {
			t.Fatalf("%s: Unwrap(vector) err = %v, want nil", name, err)
		}
		if !bytes.Equal(got, vectorDEK) {
			t.Errorf("%s: Unwrap(vector) returned a different key", name)
		}
	}
}

func TestUnwrapMalformed(t *testing.T) {
	kek, err := keyfile.FromBytes("lab-results", testKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ct   []byte
		want string
	}{
		{"nil", nil, "0 bytes, want 30 to 4125"},
		{"one short", vector.Ciphertext[:29], "29 bytes, want 30 to 4125"},
		{"one too long", make([]byte, 4126), "4126 bytes, want 30 to 4125"},
		{"format 0", append([]byte{0}, vector.Ciphertext[1:]...), "format byte is 0, want 1"},
		{"format 2", append([]byte{2}, vector.Ciphertext[1:]...), "format byte is 2, want 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kek.Unwrap(t.Context(), kms.Wrapped{Version: 1, Ciphertext: tc.ct}, topic)
			if !errors.Is(err, keyfile.ErrMalformedWrappedKey) {
				t.Fatalf("Unwrap(ctx) err = %v, want ErrMalformedWrappedKey", err)
			}
			if !errors.Is(err, kms.ErrContextMismatch) || kms.IsRetryable(err) {
				t.Errorf("Unwrap(ctx) err = %v, want permanent ErrContextMismatch", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Unwrap(ctx) err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestUnwrapAuthFailed(t *testing.T) {
	kek := mustOpen(t, copyTestdata(t))
	moved := vector
	moved.Version = 2 // the associated data binds the version
	tests := map[string]struct {
		w  kms.Wrapped
		ec kms.EncryptionContext
	}{
		"other context": {vector, kms.EncryptionContext{"topic": "billing"}},
		"other version": {moved, topic},
	}
	for name, tc := range tests {
		_, err := kek.Unwrap(t.Context(), tc.w, tc.ec)
		if !errors.Is(err, keyfile.ErrAuthFailed) || !errors.Is(err, kms.ErrContextMismatch) {
			t.Errorf("%s: Unwrap(ctx) err = %v, want ErrContextMismatch and ErrAuthFailed", name, err)
		}
	}
}

func TestWrapKeyLength(t *testing.T) {
	kek, err := keyfile.FromBytes("lab-results", testKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 4096} {
		dek := bytes.Repeat([]byte{'d'}, n)
		w, err := kek.Wrap(t.Context(), dek, topic)
		if err != nil {
			t.Fatalf("Wrap(%d bytes) err = %v, want nil", n, err)
		}
		got, err := kek.Unwrap(t.Context(), w, topic)
		if err != nil || !bytes.Equal(got, dek) {
			t.Errorf("Unwrap of a %d-byte key err = %v, want the same key back", n, err)
		}
	}
	for _, n := range []int{0, 4097} {
		_, err := kek.Wrap(t.Context(), make([]byte, n), topic)
		var kerr *kms.Error
		if !errors.As(err, &kerr) || kerr.Op != kms.OpWrap || kerr.Retryable() {
			t.Errorf("Wrap(%d bytes) err = %v, want a permanent *kms.Error", n, err)
		}
	}
}

func FuzzUnwrap(f *testing.F) {
	f.Add(vector.Ciphertext)
	f.Add(vector.Ciphertext[:29])
	f.Add([]byte{1})
	kek, err := keyfile.FromBytes("lab-results", testKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ct []byte) {
		dek, err := kek.Unwrap(t.Context(), kms.Wrapped{Version: 1, Ciphertext: ct}, topic)
		if err == nil {
			if !bytes.Equal(ct, vector.Ciphertext) || !bytes.Equal(dek, vectorDEK) {
				t.Fatal("Unwrap(ctx) accepted a wrapped key that Wrap did not make")
			}
			return
		}
		if dek != nil || !errors.Is(err, kms.ErrContextMismatch) || kms.IsRetryable(err) {
			t.Fatalf("Unwrap(ctx) = %d bytes, %v, want nil and a permanent ErrContextMismatch", len(dek), err)
		}
	})
}
