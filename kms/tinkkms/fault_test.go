package tinkkms_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// faultyAEAD is a test double for faults that no real Tink AEAD produces
// on demand: an empty ciphertext, a failing Encrypt, and a transport that
// times out without the caller's context expiring.
type faultyAEAD struct {
	tink.AEAD
	emptyCiphertext bool
	encryptErr      error
	decryptErr      error
}

func (f *faultyAEAD) Encrypt(pt, ad []byte) ([]byte, error) {
	if f.encryptErr != nil {
		return nil, f.encryptErr
	}
	if f.emptyCiphertext {
		return []byte{}, nil
	}
	return f.AEAD.Encrypt(pt, ad)
}

func (f *faultyAEAD) Decrypt(ct, ad []byte) ([]byte, error) {
	if f.decryptErr != nil {
		return nil, f.decryptErr
	}
	return f.AEAD.Decrypt(ct, ad)
}

// faultyContextAEAD adds tink.AEADWithContext, as remote AEADs have, so
// that the KEK takes the context path.
type faultyContextAEAD struct{ *faultyAEAD }

func (f faultyContextAEAD) EncryptWithContext(_ context.Context, pt, ad []byte) ([]byte, error) {
	return f.Encrypt(pt, ad)
}

func (f faultyContextAEAD) DecryptWithContext(_ context.Context, ct, ad []byte) ([]byte, error) {
	return f.Decrypt(ct, ad)
}

func TestWrapFaults(t *testing.T) {
	real := primitive(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	tests := []struct {
		name string
		aead tink.AEAD
		want error
	}{
		{"empty ciphertext", &faultyAEAD{AEAD: real, emptyCiphertext: true}, kms.ErrInvalidResponse},
		{"encrypt error", &faultyAEAD{AEAD: real, encryptErr: errors.New("connection reset")}, kms.ErrUnavailable},
		{"deadline", faultyContextAEAD{&faultyAEAD{AEAD: real, encryptErr: context.DeadlineExceeded}}, kms.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tinkkms.New("remote", tc.aead)
			if err != nil {
				t.Fatalf("New() err = %v", err)
			}
			_, err = k.Wrap(context.Background(), newDEK(t), testEC)
			if !errors.Is(err, tc.want) {
				t.Errorf("Wrap(ctx) err = %v, want %v", err, tc.want)
			}
			if !kms.IsRetryable(err) {
				t.Errorf("IsRetryable(%v) = false, want true", err)
			}
		})
	}
}

func TestUnwrapTransportDeadline(t *testing.T) {
	real := primitive(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	f := &faultyAEAD{AEAD: real}
	k, err := tinkkms.New("remote", faultyContextAEAD{f})
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	w, err := k.Wrap(context.Background(), newDEK(t), testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	f.decryptErr = context.DeadlineExceeded

	_, err = k.Unwrap(context.Background(), w, testEC)
	if !errors.Is(err, kms.ErrUnavailable) {
		t.Errorf("Unwrap(ctx) err = %v, want ErrUnavailable", err)
	}
}
