package keyfile_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// testKey is the key of version 1 in testdata/v1.json. It is readable text,
// so a leak into an error message is easy to find.
var testKey = []byte("keyfile-test-secret-key-32-bytes")

var topic = kms.EncryptionContext{"topic": "lab-results"}

// newPath returns the path of a key file that does not exist yet.
func newPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "kek.json")
}

// copyTestdata copies testdata/v1.json to a new file with mode 0600 and
// returns its path. Git does not keep mode 0600, so the copy is needed.
func copyTestdata(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return writeKeyFile(t, data, 0o600)
}

func writeKeyFile(t *testing.T, data []byte, mode fs.FileMode) string {
	t.Helper()
	path := newPath(t)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
	return path
}

func mustOpen(t *testing.T, path string, opts ...keyfile.Opt) *keyfile.KEK {
	t.Helper()
	kek, err := keyfile.Open(path, "lab-results", opts...)
	if err != nil {
		t.Fatalf("Open(%s) err = %v, want nil", path, err)
	}
	return kek
}

func TestConformanceFile(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.KEK { return mustOpen(t, newPath(t)) })
}

func TestConformanceBytes(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.KEK {
		kek, err := keyfile.FromBytes("lab-results", testKey)
		if err != nil {
			t.Fatalf("FromBytes err = %v, want nil", err)
		}
		return kek
	})
}

func TestFromBytesWrongLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, err := keyfile.FromBytes("lab-results", bytes.Repeat([]byte{'k'}, n))
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Fatalf("FromBytes(%d bytes) err = %v, want ErrInvalidConfig", n, err)
			}
			if want := fmt.Sprintf("is %d bytes, want 32", n); !strings.Contains(err.Error(), want) {
				t.Errorf("FromBytes(%d bytes) err = %q, want it to contain %q", n, err, want)
			}
		})
	}
}

func TestFromBytesCopiesKey(t *testing.T) {
	key := bytes.Clone(testKey)
	kek, err := keyfile.FromBytes("lab-results", key)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kek.Wrap(t.Context(), []byte("data key"), topic)
	if err != nil {
		t.Fatal(err)
	}
	clear(key)
	if _, err := kek.Unwrap(t.Context(), w, topic); err != nil {
		t.Errorf("Unwrap after the caller cleared its key err = %v, want nil", err)
	}
}

func TestFromBytesEmptyName(t *testing.T) {
	if _, err := keyfile.FromBytes("", testKey); !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("FromBytes(\"\") err = %v, want ErrInvalidConfig", err)
	}
}

func TestFormatHidesKey(t *testing.T) {
	fromBytes, err := keyfile.FromBytes("lab-results", testKey)
	if err != nil {
		t.Fatal(err)
	}
	keks := map[string]*keyfile.KEK{"bytes": fromBytes, "file": mustOpen(t, copyTestdata(t))}
	for name, kek := range keks {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			out := fmt.Sprintf(verb, kek)
			if !strings.Contains(out, "lab-results") {
				t.Errorf("Sprintf(%q, %s KEK) = %q, want the KEK name", verb, name, out)
			}
			kmstest.CheckNoLeak(t, errors.New(out), testKey)
		}
	}
}

func TestOpenCreatesFile(t *testing.T) {
	path := newPath(t)
	first := mustOpen(t, path)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("created key file mode = %04o, want 0600", got)
	}
	if v, _ := first.PrimaryVersion(t.Context()); v != 1 {
		t.Errorf("PrimaryVersion of a new key file = %d, want 1", v)
	}

	w, err := first.Wrap(t.Context(), []byte("data key"), topic)
	if err != nil {
		t.Fatal(err)
	}
	second := mustOpen(t, path)
	if _, err := second.Unwrap(t.Context(), w, topic); err != nil {
		t.Errorf("Unwrap with the key file opened again err = %v, want nil", err)
	}
}

func TestOpenMissing(t *testing.T) {
	path := newPath(t)
	_, err := keyfile.Open(path, "lab-results", keyfile.CreateMissing(false))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(CreateMissing(false)) err = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(CreateMissing(false)) created %s", path)
	}
}

func TestOpenMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "kek.json")
	if _, err := keyfile.Open(path, "lab-results"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in a missing directory err = %v, want fs.ErrNotExist", err)
	}
}

func TestOpenEmptyName(t *testing.T) {
	if _, err := keyfile.Open(newPath(t), ""); !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("Open(name \"\") err = %v, want ErrInvalidConfig", err)
	}
}

func TestOpenPermissions(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true},
		{0o644, false}, {0o640, false}, {0o604, false}, {0o660, false}, {0o610, false}, {0o601, false},
	}
	data, err := os.ReadFile("testdata/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			path := writeKeyFile(t, data, tc.mode)
			_, err := keyfile.Open(path, "lab-results")
			if tc.ok {
				if err != nil {
					t.Errorf("Open(mode %04o) err = %v, want nil", tc.mode, err)
				}
				return
			}
			checkPermissionError(t, err, path, tc.mode)
		})
	}
}

func checkPermissionError(t *testing.T, err error, path string, mode fs.FileMode) {
	t.Helper()
	var perr *keyfile.PermissionError
	if !errors.As(err, &perr) {
		t.Fatalf("Open(mode %04o) err = %v, want *PermissionError", mode, err)
	}
	if perr.Path != path || perr.Mode != mode {
		t.Errorf("PermissionError = {%s, %04o}, want {%s, %04o}", perr.Path, perr.Mode, path, mode)
	}
	if !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("Open(mode %04o) err = %v, want it to wrap ErrInvalidConfig", mode, err)
	}
	for _, want := range []string{path, fmt.Sprintf("%04o", mode), "chmod 600"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(mode %04o) err = %q, want it to contain %q", mode, err, want)
		}
	}
}

func TestOpenNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := keyfile.Open(dir, "lab-results"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(directory) err = %v, want not a regular file", err)
	}
}

func TestOpenTooLarge(t *testing.T) {
	path := writeKeyFile(t, bytes.Repeat([]byte(" "), 1<<20+1), 0o600)
	if _, err := keyfile.Open(path, "lab-results"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Open(file over 1 MiB) err = %v, want larger than", err)
	}
}

// validDoc returns testdata/v1.json as a map for a test to alter.
func validDoc(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func versionAt(doc map[string]any, i int) map[string]any {
	return doc["versions"].([]any)[i].(map[string]any)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
