package keyfile_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// TestOpenSymlink checks that a symbolic link to a key file opens, as
// Kubernetes mounts secrets that way.
func TestOpenSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "..data", "lab-results.json")
	if err := os.Mkdir(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := keyfile.Open(target, "lab-results"); err != nil {
		t.Fatalf("Open(%s) err = %v", target, err)
	}
	link := filepath.Join(dir, "lab-results.json")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlink: %v", err)
	}
	if _, err := keyfile.Open(link, "lab-results", keyfile.CreateMissing(false)); err != nil {
		t.Errorf("Open(symbolic link to a key file) err = %v, want nil", err)
	}
}

// TestOpenHidesFileText checks that errors about a malformed key file do
// not quote a key pasted as a field name, a KEK name or a state.
func TestOpenHidesFileText(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	const valid = `{"version":1,"state":"enabled","key":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}`
	tests := []struct{ name, doc string }{
		{"version field", `{"format":1,"name":"lab-results","primary":1,"min_version":1,"versions":[{"version":1,"state":"enabled","` + key + `":"key"}]}`},
		{"top-level field", `{"format":1,"name":"lab-results","primary":1,"min_version":1,"` + key + `":1,"versions":[` + valid + `]}`},
		{"name", `{"format":1,"name":"` + key + `","primary":1,"min_version":1,"versions":[` + valid + `]}`},
		{"state", `{"format":1,"name":"lab-results","primary":1,"min_version":1,"versions":[{"version":1,"state":"` + key + `"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.json")
			if err := os.WriteFile(path, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := keyfile.Open(path, "lab-results", keyfile.CreateMissing(false))
			if err == nil {
				t.Fatal("Open err = nil, want an error")
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("Open err = %q, contains key text from the file", err)
			}
		})
	}
}

// TestConcurrentRotateReload runs Wrap and Unwrap while another goroutine
// rotates and reloads the file. Every key wrapped by this process must
// unwrap to the same bytes.
func TestConcurrentRotateReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.json")
	kek, err := keyfile.Open(path, "lab-results")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ec := kms.EncryptionContext{"topic": "t"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			dek := []byte(fmt.Sprintf("goroutine %d data key, 32 bytes.", i))[:32]
			for {
				select {
				case <-stop:
					return
				default:
				}
				w, err := kek.Wrap(ctx, dek, ec)
				if err != nil {
					t.Errorf("Wrap err = %v", err)
					return
				}
				got, err := kek.Unwrap(ctx, w, ec)
				if err != nil {
					t.Errorf("Unwrap(version %d) err = %v, want nil", w.Version, err)
					return
				}
				if string(got) != string(dek) {
					t.Errorf("Unwrap(version %d) returned other bytes", w.Version)
					return
				}
			}
		})
	}
	for range 30 {
		if _, err := kek.Rotate(); err != nil {
			t.Fatal(err)
		}
		if err := kek.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestOpenURIErrorsHideSecrets feeds a password through the user
// information, query, fragment and path of rejected keyfile URIs and
// checks that no error contains it.
func TestOpenURIErrorsHideSecrets(t *testing.T) {
	const secret = "URITESTPASSWORD"
	tests := []struct{ name, uri string }{
		{"password", "keyfile://admin:" + secret + "@/etc/kenvelope/lab-results.json"},
		{"user", "keyfile://" + secret + "@/etc/kenvelope/lab-results.json"},
		{"host", "keyfile://" + secret + "/lab-results.json"},
		{"port", "keyfile://localhost:" + secret + "/lab-results.json"},
		{"query", "keyfile:///etc/kenvelope/lab-results.json?password=" + secret},
		{"fragment", "keyfile:///etc/kenvelope/lab-results.json#" + secret},
		{"bad escape", "keyfile:///etc/" + secret + "%zz/lab-results.json"},
		{"relative path", "keyfile:" + secret + "/lab-results.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kms.Open(context.Background(), "lab-results", tc.uri)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("kms.Open err = %v, want ErrInvalidConfig", err)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("kms.Open err = %q, contains the password from the URI", err)
			}
		})
	}
}
