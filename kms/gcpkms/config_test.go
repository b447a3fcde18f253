package gcpkms_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/gcpkms"
)

func TestNewVersionNameRejected(t *testing.T) {
	srv := startFake(t)
	client := newClient(t, srv)

	_, err := gcpkms.New(t.Context(), client, testKEKName, testKeyName+"/cryptoKeyVersions/3")
	if !errors.Is(err, kms.ErrInvalidConfig) {
		t.Fatalf("New(version name) err = %v, want ErrInvalidConfig", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "is a crypto key version name") {
		t.Errorf("New(version name) err = %q, want it to say the name is a crypto key version", msg)
	}
	if !strings.Contains(msg, "pass the crypto key \""+testKeyName+"\"") {
		t.Errorf("New(version name) err = %q, want it to name the crypto key to pass instead", msg)
	}
}

func TestNewInvalidKeyName(t *testing.T) {
	tests := []struct {
		name, keyName string
	}{
		{"empty", ""},
		{"key ring only", "projects/p/locations/global/keyRings/r"},
		{"trailing slash", testKeyName + "/"},
		{"leading slash", "/" + testKeyName},
		{"wrong word", "projects/p/locations/global/keyrings/r/cryptoKeys/k"},
		{"empty project", "projects//locations/global/keyRings/r/cryptoKeys/k"},
		{"empty key id", "projects/p/locations/global/keyRings/r/cryptoKeys/"},
		{"key id with dot", "projects/p/locations/global/keyRings/r/cryptoKeys/k.v2"},
		{"key id too long", "projects/p/locations/global/keyRings/r/cryptoKeys/" + strings.Repeat("k", 64)},
		{"extra segments", testKeyName + "/cryptoKeyVersions/1/x"},
		{"version not a number", testKeyName + "/cryptoKeyVersions/latest"},
		{"white space", "projects/p q/locations/global/keyRings/r/cryptoKeys/k"},
		{"uri", "gcp-kms://" + testKeyName},
	}
	srv := startFake(t)
	client := newClient(t, srv)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gcpkms.New(t.Context(), client, testKEKName, tc.keyName)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("New(%q) err = %v, want ErrInvalidConfig", tc.keyName, err)
			}
		})
	}
}

func TestNewInvalidArguments(t *testing.T) {
	srv := startFake(t)
	client := newClient(t, srv)
	tests := []struct {
		name string
		new  func() (*gcpkms.KEK, error)
	}{
		{"nil client", func() (*gcpkms.KEK, error) {
			return gcpkms.New(t.Context(), nil, testKEKName, testKeyName)
		}},
		{"empty name", func() (*gcpkms.KEK, error) {
			return gcpkms.New(t.Context(), client, "", testKeyName)
		}},
		{"client options", func() (*gcpkms.KEK, error) {
			return gcpkms.New(t.Context(), client, testKEKName, testKeyName, gcpkms.ClientOptions(srv.ClientOptions()...))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.new(); !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("New() err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestOpenURI(t *testing.T) {
	srv := startFake(t)
	kek, err := gcpkms.OpenURI(t.Context(), testKEKName, "gcp-kms://"+testKeyName, gcpkms.ClientOptions(srv.ClientOptions()...))
	if err != nil {
		t.Fatalf("OpenURI() err = %v, want nil", err)
	}
	t.Cleanup(func() { _ = kek.Close() })

	if kek.KeyName() != testKeyName {
		t.Errorf("KeyName() = %q, want %q", kek.KeyName(), testKeyName)
	}
	unwrapOK(t, kek, wrap(t, kek, topicEC()), topicEC())
}

func TestOpenRegisteredScheme(t *testing.T) {
	srv := startFake(t)
	t.Cleanup(gcpkms.SetOpenOptions(gcpkms.ClientOptions(srv.ClientOptions()...)))

	kek, err := kms.Open(t.Context(), testKEKName, "gcp-kms://"+testKeyName)
	if err != nil {
		t.Fatalf("kms.Open() err = %v, want nil", err)
	}
	gk, ok := kek.(*gcpkms.KEK)
	if !ok {
		t.Fatalf("kms.Open() returned %T, want *gcpkms.KEK", kek)
	}
	t.Cleanup(func() { _ = gk.Close() })
	if kek.Name() != testKEKName {
		t.Errorf("Name() = %q, want %q", kek.Name(), testKEKName)
	}
	unwrapOK(t, kek, wrap(t, kek, topicEC()), topicEC())
}

// TestOpenURIInvalid uses no client options: every URI here must be
// rejected before a client, and so a credential lookup, is created.
func TestOpenURIInvalid(t *testing.T) {
	tests := []struct {
		name, uri string
	}{
		{"version", "gcp-kms://" + testKeyName + "/cryptoKeyVersions/1"},
		{"no key", "gcp-kms://projects/p/locations/global/keyRings/r"},
		{"other scheme", "aws-kms://" + testKeyName},
		{"no scheme", testKeyName},
		{"single slash", "gcp-kms:/" + testKeyName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gcpkms.OpenURI(t.Context(), testKEKName, tc.uri)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("OpenURI(%q) err = %v, want ErrInvalidConfig", tc.uri, err)
			}
		})
	}

	_, err := kms.Open(t.Context(), testKEKName, "gcp-kms://"+testKeyName+"/cryptoKeyVersions/1")
	if !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("kms.Open(version URI) err = %v, want ErrInvalidConfig", err)
	}
}

func TestCloseBorrowedClient(t *testing.T) {
	srv := startFake(t)
	client := newClient(t, srv)
	kek := newKEK(t, client)
	if err := kek.Close(); err != nil {
		t.Fatalf("Close() err = %v, want nil", err)
	}
	// The client still works, because New's caller owns it.
	unwrapOK(t, kek, wrap(t, kek, topicEC()), topicEC())
}
