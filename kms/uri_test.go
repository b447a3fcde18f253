package kms_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
)

// nilPointerKEK is a KEK type whose nil pointer the test openers return.
type nilPointerKEK struct{}

func (*nilPointerKEK) Name() string { return "nil" }

func (*nilPointerKEK) Wrap(context.Context, []byte, kms.EncryptionContext) (kms.Wrapped, error) {
	return kms.Wrapped{}, nil
}

func (*nilPointerKEK) Unwrap(context.Context, kms.Wrapped, kms.EncryptionContext) ([]byte, error) {
	return nil, nil
}

// The openers below are test doubles for backends with the bugs that Open
// guards against: returning a nil *T as a KEK with an error, and returning
// neither a KEK nor an error.
func init() {
	kms.Register("test-typed-nil", func(context.Context, string, string) (kms.KEK, error) {
		var k *nilPointerKEK
		return k, errors.New("test opener failed")
	})
	kms.Register("test-no-kek", func(context.Context, string, string) (kms.KEK, error) {
		return nil, nil
	})
}

func TestOpenNilKEKOnError(t *testing.T) {
	kek, err := kms.Open(context.Background(), "k", "test-typed-nil://x")
	if err == nil {
		t.Fatal("Open(test-typed-nil://x) err = nil, want the opener's error")
	}
	if kek != nil {
		t.Errorf("Open(test-typed-nil://x) KEK = %#v, want nil with an error", kek)
	}
}

func TestOpenNoKEKNoError(t *testing.T) {
	kek, err := kms.Open(context.Background(), "k", "test-no-kek://x")
	if !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("Open(test-no-kek://x) err = %v, want ErrInvalidConfig", err)
	}
	if kek != nil {
		t.Errorf("Open(test-no-kek://x) KEK = %#v, want nil", kek)
	}
}

func TestOpenErrorsHideURI(t *testing.T) {
	const secret = "URITESTSECRET"
	tests := []struct{ name, uri, want string }{
		{"no scheme", "hcvault:/127.0.0.1/transit/keys/k?token=" + secret, "has no scheme"},
		{"empty scheme", "://" + secret, "has no scheme"},
		{"unknown scheme", "nope://" + secret, `no backend registered for scheme "nope"`},
		{"secret as scheme", secret + "://x", "no backend registered for scheme (13 bytes, not shown)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kms.Open(context.Background(), "k", tc.uri)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Fatalf("Open err = %v, want ErrInvalidConfig", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Open err = %q, contains the secret from the URI", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
