package gcpkms_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	kmsapi "cloud.google.com/go/kms/apiv1"
	"google.golang.org/api/option"

	"github.com/kenvelope/kenvelope/internal/gcpfake"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/gcpkms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

const (
	testKeyName = "projects/test-project/locations/global/keyRings/phi/cryptoKeys/lab-results"
	testKEKName = "lab-results"
)

// testDEK is the data key the tests wrap. It is readable text, so a leak
// into an error message is easy to spot.
var testDEK = []byte("gcpkms test data key of 32 bytes")

func topicEC() kms.EncryptionContext { return kms.EncryptionContext{"topic": "lab-results"} }

// startFake starts a fake Cloud KMS server with the crypto key testKeyName.
func startFake(t *testing.T) *gcpfake.Server {
	t.Helper()
	srv, err := gcpfake.Start()
	if err != nil {
		t.Fatalf("gcpfake.Start() err = %v", err)
	}
	t.Cleanup(srv.Close)
	if err := srv.CreateKey(testKeyName); err != nil {
		t.Fatalf("CreateKey(%s) err = %v", testKeyName, err)
	}
	return srv
}

// newClient returns a real Cloud KMS client connected to srv, with extra
// client options appended.
func newClient(t *testing.T, srv *gcpfake.Server, extra ...option.ClientOption) *kmsapi.KeyManagementClient {
	t.Helper()
	opts := append(srv.ClientOptions(), extra...)
	client, err := kmsapi.NewKeyManagementClient(context.Background(), opts...)
	if err != nil {
		t.Fatalf("NewKeyManagementClient() err = %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// withoutRetries removes the client's default call options, whose retries
// on Unavailable and DeadlineExceeded would hide an injected failure from
// the KEK.
func withoutRetries(client *kmsapi.KeyManagementClient) *kmsapi.KeyManagementClient {
	client.CallOptions = &kmsapi.KeyManagementCallOptions{}
	return client
}

// newKEK returns a KEK for testKeyName that uses client.
func newKEK(t *testing.T, client *kmsapi.KeyManagementClient) *gcpkms.KEK {
	t.Helper()
	kek, err := gcpkms.New(t.Context(), client, testKEKName, testKeyName)
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	return kek
}

// wrap wraps a copy of testDEK under ec and fails the test on error.
func wrap(t *testing.T, kek kms.KEK, ec kms.EncryptionContext) kms.Wrapped {
	t.Helper()
	w, err := kek.Wrap(t.Context(), bytes.Clone(testDEK), ec)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}
	return w
}

// unwrapOK unwraps w and fails the test unless it returns testDEK.
func unwrapOK(t *testing.T, kek kms.KEK, w kms.Wrapped, ec kms.EncryptionContext) {
	t.Helper()
	got, err := kek.Unwrap(t.Context(), w, ec)
	if err != nil {
		t.Fatalf("Unwrap(ctx) of version %d err = %v, want nil", w.Version, err)
	}
	if !bytes.Equal(got, testDEK) {
		t.Fatalf("Unwrap(ctx) of version %d returned a different key from the one wrapped", w.Version)
	}
}

// checkError checks that err is a *kms.Error of kind for op on the test KEK,
// with the given retryability and no data key in its message.
func checkError(t *testing.T, err error, op kms.Op, kind error, retryable bool) *kms.Error {
	t.Helper()
	kmstest.CheckNoLeak(t, err, testDEK)
	if !errors.Is(err, kind) {
		t.Fatalf("%s err = %v, want %v", op, err, kind)
	}
	var kerr *kms.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("%s err = %v (%T), want a *kms.Error", op, err, err)
	}
	if kerr.Op != op {
		t.Errorf("%s err.Op = %q, want %q", op, kerr.Op, op)
	}
	if kerr.KEK != testKEKName {
		t.Errorf("%s err.KEK = %q, want %q", op, kerr.KEK, testKEKName)
	}
	if kerr.Retryable() != retryable {
		t.Errorf("%s err.Retryable() = %t, want %t (err = %v)", op, kerr.Retryable(), retryable, err)
	}
	return kerr
}
