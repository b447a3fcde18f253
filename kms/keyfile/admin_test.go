package keyfile_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

func wrap(t *testing.T, kek *keyfile.KEK) kms.Wrapped {
	t.Helper()
	w, err := kek.Wrap(t.Context(), []byte("data key"), topic)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}
	return w
}

func unwrap(t *testing.T, kek *keyfile.KEK, w kms.Wrapped) {
	t.Helper()
	got, err := kek.Unwrap(t.Context(), w, topic)
	if err != nil {
		t.Fatalf("Unwrap(ctx) of version %d err = %v, want nil", w.Version, err)
	}
	if string(got) != "data key" {
		t.Errorf("Unwrap(ctx) of version %d returned a different key", w.Version)
	}
}

func TestRotate(t *testing.T) {
	path := newPath(t)
	kek := mustOpen(t, path)
	old := wrap(t, kek)

	v, err := kek.Rotate()
	if err != nil || v != 2 {
		t.Fatalf("Rotate() = %d, %v, want 2, nil", v, err)
	}
	if got, _ := kek.PrimaryVersion(t.Context()); got != 2 {
		t.Errorf("PrimaryVersion after Rotate = %d, want 2", got)
	}
	current := wrap(t, kek)
	if current.Version != 2 {
		t.Errorf("Wrap after Rotate Version = %d, want 2", current.Version)
	}
	unwrap(t, kek, old)
	unwrap(t, kek, current)

	reopened := mustOpen(t, path)
	if got, _ := reopened.PrimaryVersion(t.Context()); got != 2 {
		t.Errorf("PrimaryVersion after Open again = %d, want 2", got)
	}
	unwrap(t, reopened, old)
	unwrap(t, reopened, current)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after Rotate = %04o, want 0600", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Rotate, want only the key file", len(entries))
	}
}

func TestRotateInMemory(t *testing.T) {
	kek, err := keyfile.FromBytes("lab-results", testKey)
	if err != nil {
		t.Fatal(err)
	}
	old := wrap(t, kek)
	if v, err := kek.Rotate(); err != nil || v != 2 {
		t.Fatalf("Rotate() = %d, %v, want 2, nil", v, err)
	}
	if w := wrap(t, kek); w.Version != 2 {
		t.Errorf("Wrap after Rotate Version = %d, want 2", w.Version)
	}
	unwrap(t, kek, old)
}

// TestVersionErrors checks each typed Unwrap error, both on the KEK that
// made the change and on the key file opened again.
func TestVersionErrors(t *testing.T) {
	tests := []struct {
		name        string
		change      func(kek *keyfile.KEK) error
		version     uint32 // Wrapped.Version to unwrap
		want        error
		wantVersion uint32
		wantMin     uint32
	}{
		{"unknown version", nil, 7, kms.ErrKeyNotFound, 7, 0},
		{"version 0", nil, 0, kms.ErrKeyNotFound, 0, 0},
		{"disabled", func(k *keyfile.KEK) error { return k.Disable(1) }, 1, kms.ErrKeyDisabled, 1, 0},
		{"destroyed", func(k *keyfile.KEK) error { return k.Destroy(1) }, 1, kms.ErrKeyDestroyed, 1, 0},
		{"below minimum", func(k *keyfile.KEK) error { return k.SetMinVersion(2) }, 1, kms.ErrVersionTooOld, 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := copyTestdata(t)
			kek := mustOpen(t, path)
			w := wrapVersion1(t, kek)
			if tc.change != nil {
				if err := tc.change(kek); err != nil {
					t.Fatalf("change err = %v, want nil", err)
				}
			}
			w.Version = tc.version
			for _, k := range []*keyfile.KEK{kek, mustOpen(t, path)} {
				_, err := k.Unwrap(t.Context(), w, topic)
				checkUnwrapError(t, err, tc.want, tc.wantVersion, tc.wantMin)
			}
		})
	}
}

// wrapVersion1 returns a data key wrapped under version 1 of the KEK from
// testdata/v1.json, whose primary version is 2.
func wrapVersion1(t *testing.T, kek *keyfile.KEK) kms.Wrapped {
	t.Helper()
	v1, err := keyfile.FromBytes("lab-results", testKey)
	if err != nil {
		t.Fatal(err)
	}
	w := wrap(t, v1)
	unwrap(t, kek, w)
	return w
}

func checkUnwrapError(t *testing.T, err, want error, version, minVersion uint32) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("Unwrap(ctx) err = %v, want %v", err, want)
	}
	var kerr *kms.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("Unwrap(ctx) err = %v, want *kms.Error", err)
	}
	if kerr.KEK != "lab-results" || kerr.Op != kms.OpUnwrap {
		t.Errorf("Unwrap(ctx) err KEK, Op = %q, %q, want %q, %q", kerr.KEK, kerr.Op, "lab-results", kms.OpUnwrap)
	}
	if kerr.Version != version || kerr.MinVersion != minVersion {
		t.Errorf("Unwrap(ctx) err Version, MinVersion = %d, %d, want %d, %d", kerr.Version, kerr.MinVersion, version, minVersion)
	}
}

func TestEnable(t *testing.T) {
	kek := mustOpen(t, copyTestdata(t))
	w := wrapVersion1(t, kek)
	if err := kek.Disable(1); err != nil {
		t.Fatal(err)
	}
	if err := kek.Enable(1); err != nil {
		t.Fatalf("Enable(1) err = %v, want nil", err)
	}
	unwrap(t, kek, w)
}

func TestEnableDestroyed(t *testing.T) {
	kek := mustOpen(t, copyTestdata(t))
	if err := kek.Destroy(1); err != nil {
		t.Fatal(err)
	}
	if err := kek.Destroy(1); err != nil {
		t.Errorf("Destroy(1) again err = %v, want nil", err)
	}
	for name, change := range map[string]func(uint32) error{"Enable": kek.Enable, "Disable": kek.Disable} {
		if err := change(1); !errors.Is(err, kms.ErrKeyDestroyed) {
			t.Errorf("%s(destroyed version) err = %v, want ErrKeyDestroyed", name, err)
		}
	}
}

func TestChangeUnknownVersion(t *testing.T) {
	kek := mustOpen(t, copyTestdata(t))
	changes := map[string]func(uint32) error{"Enable": kek.Enable, "Disable": kek.Disable, "Destroy": kek.Destroy}
	for name, change := range changes {
		if err := change(9); !errors.Is(err, kms.ErrKeyNotFound) {
			t.Errorf("%s(9) err = %v, want ErrKeyNotFound", name, err)
		}
	}
}

func TestDestroyRemovesKey(t *testing.T) {
	path := copyTestdata(t)
	kek := mustOpen(t, path)
	if err := kek.Destroy(1); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(b64(testKey))) {
		t.Error("key file still contains the destroyed key")
	}
	if !bytes.Contains(data, []byte(`"state": "destroyed"`)) {
		t.Errorf("key file does not mark version 1 destroyed:\n%s", data)
	}
}

func TestPrimaryUnusable(t *testing.T) {
	tests := []struct {
		name   string
		change func(k *keyfile.KEK) error
		want   error
	}{
		{"disabled", func(k *keyfile.KEK) error { return k.Disable(2) }, kms.ErrKeyDisabled},
		{"destroyed", func(k *keyfile.KEK) error { return k.Destroy(2) }, kms.ErrKeyDestroyed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := mustOpen(t, copyTestdata(t))
			if err := tc.change(kek); err != nil {
				t.Fatal(err)
			}
			_, err := kek.Wrap(t.Context(), []byte("data key"), topic)
			var kerr *kms.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &kerr) || kerr.Version != 2 || kerr.Op != kms.OpWrap {
				t.Fatalf("Wrap(ctx) err = %v, want %v for version 2", err, tc.want)
			}
			if v, err := kek.Rotate(); err != nil || v != 3 {
				t.Fatalf("Rotate() = %d, %v, want 3, nil", v, err)
			}
			unwrap(t, kek, wrap(t, kek))
		})
	}
}

func TestSetMinVersionRange(t *testing.T) {
	kek := mustOpen(t, copyTestdata(t))
	for _, v := range []uint32{0, 3} {
		if err := kek.SetMinVersion(v); err == nil {
			t.Errorf("SetMinVersion(%d) with primary version 2 err = nil, want an error", v)
		}
	}
	w := wrapVersion1(t, kek)
	if err := kek.SetMinVersion(2); err != nil {
		t.Fatal(err)
	}
	if err := kek.SetMinVersion(1); err != nil {
		t.Fatalf("SetMinVersion(1) after 2 err = %v, want nil", err)
	}
	unwrap(t, kek, w)
}

func TestReload(t *testing.T) {
	path := newPath(t)
	writer, reader := mustOpen(t, path), mustOpen(t, path)
	if _, err := writer.Rotate(); err != nil {
		t.Fatal(err)
	}
	w := wrap(t, writer)
	if v, _ := reader.PrimaryVersion(t.Context()); v != 1 {
		t.Errorf("PrimaryVersion before Reload = %d, want 1", v)
	}
	if err := reader.Reload(); err != nil {
		t.Fatalf("Reload() err = %v, want nil", err)
	}
	if v, _ := reader.PrimaryVersion(t.Context()); v != 2 {
		t.Errorf("PrimaryVersion after Reload = %d, want 2", v)
	}
	unwrap(t, reader, w)
}

func TestReloadInvalidFile(t *testing.T) {
	path := newPath(t)
	kek := mustOpen(t, path)
	w := wrap(t, kek)
	if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ferr *keyfile.FileError
	if err := kek.Reload(); !errors.As(err, &ferr) {
		t.Fatalf("Reload() of an invalid file err = %v, want *FileError", err)
	}
	unwrap(t, kek, w)
}

func TestReloadFromBytes(t *testing.T) {
	kek, err := keyfile.FromBytes("lab-results", testKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := kek.Reload(); err == nil {
		t.Error("Reload() of a KEK from FromBytes err = nil, want an error")
	}
}

func TestWriteFailureKeepsKEK(t *testing.T) {
	path := newPath(t)
	kek := mustOpen(t, path)
	w := wrap(t, kek)
	if err := os.RemoveAll(filepath.Dir(path)); err != nil { // makes every write fail, even as root
		t.Fatal(err)
	}

	var ferr *keyfile.FileError
	if _, err := kek.Rotate(); !errors.As(err, &ferr) {
		t.Fatalf("Rotate() with the directory removed err = %v, want *FileError", err)
	}
	if err := kek.Destroy(1); err == nil {
		t.Fatal("Destroy(1) with the directory removed err = nil, want an error")
	}
	if v, _ := kek.PrimaryVersion(t.Context()); v != 1 {
		t.Errorf("PrimaryVersion after a failed Rotate = %d, want 1", v)
	}
	unwrap(t, kek, w)
}
