//go:build unix

package keyfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// TestOpenFIFO checks that kms.Open and Open return a *FileError for a
// FIFO at once, instead of blocking in open until a writer appears.
func TestOpenFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "lab-results.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A reader blocked in open returns once a writer opens the FIFO.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})

	done := make(chan error, 2)
	go func() {
		_, err := kms.Open(context.Background(), "lab-results", "keyfile://"+fifo)
		done <- err
	}()
	go func() {
		_, err := keyfile.Open(fifo, "lab-results", keyfile.CreateMissing(false))
		done <- err
	}()
	for range 2 {
		select {
		case err := <-done:
			var ferr *keyfile.FileError
			if !errors.As(err, &ferr) || !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("Open(FIFO) err = %v, want a *FileError wrapping ErrInvalidConfig", err)
			}
			if err != nil && !strings.Contains(err.Error(), fifo) {
				t.Errorf("Open(FIFO) err = %v, want it to name the path", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("Open(FIFO) still blocked after 3s, want a *FileError for a file that is not regular")
		}
	}
}
