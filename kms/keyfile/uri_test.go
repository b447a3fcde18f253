package keyfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
)

func TestOpenURI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lab results.json")
	kek, err := kms.Open(t.Context(), "lab-results", "keyfile://"+filepath.Dir(path)+"/lab%20results.json")
	if err != nil {
		t.Fatalf("kms.Open(keyfile URI) err = %v, want nil", err)
	}
	if kek.Name() != "lab-results" {
		t.Errorf("Name() = %q, want %q", kek.Name(), "lab-results")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("kms.Open(keyfile URI) did not create %s: %v", path, err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("created key file mode = %04o, want 0600", info.Mode().Perm())
	}
	w, err := kek.Wrap(t.Context(), []byte("data key"), topic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustOpen(t, path).Unwrap(t.Context(), w, topic); err != nil {
		t.Errorf("Unwrap with the file opened by path err = %v, want nil", err)
	}
}

func TestOpenURIInvalid(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]string{
		"host":        "keyfile://localhost" + dir + "/kek.json",
		"relative":    "keyfile://./kek.json",
		"no path":     "keyfile://",
		"user":        "keyfile://user@" + dir + "/kek.json",
		"query":       "keyfile://" + dir + "/kek.json?create=false",
		"fragment":    "keyfile://" + dir + "/kek.json#v1",
		"invalid URI": "keyfile://%zz/kek.json",
	}
	for name, uri := range tests {
		kek, err := kms.Open(t.Context(), "lab-results", uri)
		if !errors.Is(err, kms.ErrInvalidConfig) {
			t.Errorf("%s: kms.Open(%q) err = %v, want ErrInvalidConfig", name, uri, err)
		}
		if kek != nil {
			t.Errorf("%s: kms.Open(%q) returned a non-nil KEK with its error", name, uri)
		}
	}
}

func TestOpenURIPermissions(t *testing.T) {
	data, err := os.ReadFile("testdata/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	path := writeKeyFile(t, data, 0o644)
	kek, err := kms.Open(t.Context(), "lab-results", "keyfile://"+path)
	checkPermissionError(t, err, path, 0o644)
	if kek != nil {
		t.Error("kms.Open(keyfile URI) returned a non-nil KEK with its error")
	}
}
