package tinkkms_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/testing/fakekms"
)

// writeKeysetFile writes a fresh AES-256-GCM keyset encrypted under a new
// fake KMS key and returns the file path and the fake KMS key URI.
func writeKeysetFile(t *testing.T) (path, kekURI string) {
	t.Helper()
	kekURI, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatalf("fakekms.NewKeyURI() err = %v", err)
	}
	kek, err := fakekms.NewAEAD(kekURI)
	if err != nil {
		t.Fatalf("fakekms.NewAEAD() err = %v", err)
	}
	path = filepath.Join(t.TempDir(), "keyset.json")
	data := writeEncryptedKeyset(t, newHandle(t, aead.AES256GCMKeyTemplate()), kek, true, nil)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("WriteFile() err = %v", err)
	}
	return path, kekURI
}

func TestOpenKeysetURI(t *testing.T) {
	ctx := context.Background()
	path, kekURI := writeKeysetFile(t)
	uri := "tink-keyset://" + path + "?kek-uri=" + url.QueryEscape(kekURI)

	k, err := kms.Open(ctx, "lab-results", uri)
	if err != nil {
		t.Fatalf("kms.Open() err = %v", err)
	}
	if k.Name() != "lab-results" {
		t.Errorf("Name() = %q, want %q", k.Name(), "lab-results")
	}
	v, ok := k.(kms.Versioned)
	if !ok {
		t.Fatalf("kms.Open() returned %T, want a kms.Versioned", k)
	}
	primary, err := v.PrimaryVersion(ctx)
	if err != nil || primary == 0 {
		t.Errorf("PrimaryVersion(ctx) = %d, %v, want a key id, nil", primary, err)
	}
	dek := newDEK(t)
	w, err := k.Wrap(ctx, dek, testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	got, err := k.Unwrap(ctx, w, testEC)
	if err != nil || !bytes.Equal(got, dek) {
		t.Errorf("Unwrap(ctx) err = %v, want the wrapped key", err)
	}
}

func TestOpenKeysetURIErrors(t *testing.T) {
	path, kekURI := writeKeysetFile(t)
	other, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatalf("fakekms.NewKeyURI() err = %v", err)
	}
	kek := url.QueryEscape(kekURI)

	tests := []struct {
		name string
		uri  string
	}{
		{"relative path", "tink-keyset://relative/keyset.json?kek-uri=" + kek},
		{"no path", "tink-keyset://?kek-uri=" + kek},
		{"no kek-uri", "tink-keyset://" + path},
		{"empty kek-uri", "tink-keyset://" + path + "?kek-uri="},
		{"two kek-uri", "tink-keyset://" + path + "?kek-uri=" + kek + "&kek-uri=" + kek},
		{"unknown parameter", "tink-keyset://" + path + "?kek-uri=" + kek + "&ad=x"},
		{"bad query", "tink-keyset://" + path + "?kek-uri=%zz"},
		{"missing file", "tink-keyset://" + path + ".missing?kek-uri=" + kek},
		{"unknown KEK scheme", "tink-keyset://" + path + "?kek-uri=" + url.QueryEscape("other-kms://x")},
		{"wrong KEK", "tink-keyset://" + path + "?kek-uri=" + url.QueryEscape(other)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := kms.Open(context.Background(), "lab-results", tc.uri)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Fatalf("kms.Open() err = %v, want ErrInvalidConfig", err)
			}
			if k != nil {
				t.Errorf("kms.Open() KEK = %v, want nil", k)
			}
			for _, u := range []string{kekURI, other} {
				if key := strings.TrimPrefix(u, fakeKMSPrefix); strings.Contains(err.Error(), key) {
					t.Errorf("kms.Open() err = %q, want it not to contain the KEK URI", err)
				}
			}
		})
	}
}
