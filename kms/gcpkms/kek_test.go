package gcpkms_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/kenvelope/kenvelope/internal/gcpfake"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/gcpkms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

func TestConformance(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.KEK {
		srv := startFake(t)
		return newKEK(t, newClient(t, srv))
	})
}

func TestWrapRoundTrip(t *testing.T) {
	srv := startFake(t)
	kek := newKEK(t, newClient(t, srv))

	w := wrap(t, kek, topicEC())
	if w.Version != 1 {
		t.Errorf("Wrap(ctx) Version = %d, want 1", w.Version)
	}
	if bytes.Contains(w.Ciphertext, testDEK) {
		t.Error("Wrap(ctx) Ciphertext contains the data key in the clear")
	}
	unwrapOK(t, kek, w, topicEC())
}

func TestWrapNilContext(t *testing.T) {
	srv := startFake(t)
	kek := newKEK(t, newClient(t, srv))

	w := wrap(t, kek, nil)
	unwrapOK(t, kek, w, nil)
	unwrapOK(t, kek, w, kms.EncryptionContext{})
}

func TestWrapDEKSize(t *testing.T) {
	srv := startFake(t)
	kek := newKEK(t, newClient(t, srv))

	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := kek.Wrap(t.Context(), make([]byte, n), topicEC())
		checkError(t, err, kms.OpWrap, kms.ErrInvalidConfig, false)
	}
}

func TestUnwrapContextMismatch(t *testing.T) {
	tests := []struct {
		name         string
		wrap, unwrap kms.EncryptionContext
	}{
		{"other topic", topicEC(), kms.EncryptionContext{"topic": "billing"}},
		{"missing context", topicEC(), nil},
		{"extra pair", topicEC(), kms.EncryptionContext{"topic": "lab-results", "tenant": "a"}},
		{"wrapped without context", nil, topicEC()},
	}
	srv := startFake(t)
	kek := newKEK(t, newClient(t, srv))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := wrap(t, kek, tc.wrap)
			dek, err := kek.Unwrap(t.Context(), w, tc.unwrap)
			if dek != nil {
				t.Error("Unwrap(ctx) returned key bytes with its error, want nil")
			}
			kerr := checkError(t, err, kms.OpUnwrap, kms.ErrContextMismatch, false)
			if kerr.Version != 1 {
				t.Errorf("Unwrap(ctx) err.Version = %d, want 1", kerr.Version)
			}
			if !strings.Contains(err.Error(), "did not match") || !strings.Contains(err.Error(), "altered") {
				t.Errorf("Unwrap(ctx) err = %q, want it to say the context did not match or the key was altered", err)
			}
		})
	}
}

func TestResponseChecksum(t *testing.T) {
	tests := []struct {
		name  string
		op    kms.Op
		fault func(srv *gcpfake.Server, on bool)
	}{
		{"wrap ciphertext checksum", kms.OpWrap, (*gcpfake.Server).CorruptResponseChecksum},
		{"wrap verified flags", kms.OpWrap, (*gcpfake.Server).DropVerifiedFlags},
		{"unwrap plaintext checksum", kms.OpUnwrap, (*gcpfake.Server).CorruptResponseChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t)
			kek := newKEK(t, newClient(t, srv))
			w := wrap(t, kek, topicEC())

			tc.fault(srv, true)
			var err error
			if tc.op == kms.OpWrap {
				_, err = kek.Wrap(t.Context(), bytes.Clone(testDEK), topicEC())
			} else {
				_, err = kek.Unwrap(t.Context(), w, topicEC())
			}
			checkError(t, err, tc.op, kms.ErrInvalidResponse, true)
			if !kms.IsRetryable(err) {
				t.Errorf("kms.IsRetryable(%v) = false, want true", err)
			}

			tc.fault(srv, false)
			unwrapOK(t, kek, wrap(t, kek, topicEC()), topicEC())
		})
	}
}

// corruptRequests returns a client option whose interceptor flips one bit of
// the data in every Encrypt and Decrypt request after the KEK computed its
// checksum, as damage on the way to Cloud KMS would. It is a test double:
// neither the real client nor the fake server can damage a request.
func corruptRequests() option.ClientOption {
	return option.WithGRPCDialOption(grpc.WithUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			switch r := req.(type) {
			case *kmspb.EncryptRequest:
				r.Plaintext = flipBit(r.Plaintext)
			case *kmspb.DecryptRequest:
				r.Ciphertext = flipBit(r.Ciphertext)
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}))
}

func flipBit(b []byte) []byte {
	b = bytes.Clone(b)
	b[0] ^= 0x01
	return b
}

func TestRequestChecksum(t *testing.T) {
	srv := startFake(t)
	good := newKEK(t, newClient(t, srv))
	w := wrap(t, good, topicEC())
	bad := newKEK(t, newClient(t, srv, corruptRequests()))

	_, err := bad.Wrap(t.Context(), bytes.Clone(testDEK), topicEC())
	checkError(t, err, kms.OpWrap, kms.ErrInvalidResponse, true)

	_, err = bad.Unwrap(t.Context(), w, topicEC())
	checkError(t, err, kms.OpUnwrap, kms.ErrInvalidResponse, true)
}

func TestRotation(t *testing.T) {
	srv := startFake(t)
	kek := newKEK(t, newClient(t, srv))
	old := wrap(t, kek, topicEC())

	v, err := srv.Rotate(testKeyName)
	if err != nil {
		t.Fatalf("Rotate() err = %v", err)
	}
	primary, err := kek.PrimaryVersion(t.Context())
	if err != nil {
		t.Fatalf("PrimaryVersion(ctx) err = %v, want nil", err)
	}
	if primary != v {
		t.Errorf("PrimaryVersion(ctx) = %d, want %d", primary, v)
	}

	fresh := wrap(t, kek, topicEC())
	if fresh.Version != v {
		t.Errorf("Wrap(ctx) after rotation Version = %d, want %d", fresh.Version, v)
	}
	unwrapOK(t, kek, old, topicEC())
	unwrapOK(t, kek, fresh, topicEC())
}

func TestVersionState(t *testing.T) {
	tests := []struct {
		name   string
		change func(srv *gcpfake.Server, keyName string, v uint32) error
		want   error
	}{
		{"destroyed", (*gcpfake.Server).DestroyVersion, kms.ErrKeyDestroyed},
		{"destroy scheduled", (*gcpfake.Server).ScheduleDestroyVersion, kms.ErrKeyDestroyed},
		{"disabled", (*gcpfake.Server).DisableVersion, kms.ErrKeyDisabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t)
			kek := newKEK(t, newClient(t, srv))
			old := wrap(t, kek, topicEC())
			if _, err := srv.Rotate(testKeyName); err != nil {
				t.Fatalf("Rotate() err = %v", err)
			}
			if err := tc.change(srv, testKeyName, old.Version); err != nil {
				t.Fatalf("changing the state of version %d: err = %v", old.Version, err)
			}

			_, err := kek.Unwrap(t.Context(), old, topicEC())
			kerr := checkError(t, err, kms.OpUnwrap, tc.want, false)
			if kerr.Version != old.Version {
				t.Errorf("Unwrap(ctx) err.Version = %d, want %d", kerr.Version, old.Version)
			}

			fresh := wrap(t, kek, topicEC())
			if fresh.Version != 2 {
				t.Errorf("Wrap(ctx) Version = %d, want 2", fresh.Version)
			}
			unwrapOK(t, kek, fresh, topicEC())
		})
	}
}

func TestWrapPrimaryDestroyed(t *testing.T) {
	srv := startFake(t)
	kek := newKEK(t, newClient(t, srv))
	if err := srv.DestroyVersion(testKeyName, 1); err != nil {
		t.Fatalf("DestroyVersion() err = %v", err)
	}
	_, err := kek.Wrap(t.Context(), bytes.Clone(testDEK), topicEC())
	checkError(t, err, kms.OpWrap, kms.ErrKeyDestroyed, false)
}

func TestPrimaryVersionNotFound(t *testing.T) {
	srv := startFake(t)
	kek, err := gcpkms.New(t.Context(), newClient(t, srv), testKEKName,
		"projects/test-project/locations/global/keyRings/phi/cryptoKeys/missing")
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	_, err = kek.PrimaryVersion(t.Context())
	checkError(t, err, kms.OpVersion, kms.ErrKeyNotFound, false)
	_, err = kek.Wrap(t.Context(), bytes.Clone(testDEK), topicEC())
	checkError(t, err, kms.OpWrap, kms.ErrKeyNotFound, false)
}
