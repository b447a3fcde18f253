//go:build unix

package regularfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kenvelope/kenvelope/kms/internal/regularfile"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	linkToFIFO := filepath.Join(dir, "link-to-fifo")
	if err := os.Symlink(fifo, linkToFIFO); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, path string
		want       error // nil for success
	}{
		{"regular file", file, nil},
		{"symbolic link to a regular file", link, nil},
		{"FIFO", fifo, regularfile.ErrNotRegular},
		{"symbolic link to a FIFO", linkToFIFO, regularfile.ErrNotRegular},
		{"directory", dir, regularfile.ErrNotRegular},
		{"device", "/dev/null", regularfile.ErrNotRegular},
		{"missing", filepath.Join(dir, "missing"), fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, info, err := regularfile.Open(tc.path)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open(%s) err = %v, want nil", tc.path, err)
				}
				defer f.Close()
				if info.Size() != 4 {
					t.Errorf("Open(%s) size = %d, want 4", tc.path, info.Size())
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Open(%s) err = %v, want %v", tc.path, err, tc.want)
			}
			if f != nil {
				f.Close()
				t.Errorf("Open(%s) returned a file with its error", tc.path)
			}
		})
	}
}
