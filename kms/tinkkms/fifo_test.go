//go:build unix

package tinkkms_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/tink-crypto/tink-go/v2/testing/fakekms"
)

// TestKeysetURIFIFO checks that kms.Open on a tink-keyset URI naming a
// FIFO fails at once with ErrInvalidConfig, instead of blocking in open
// until a writer appears.
func TestKeysetURIFIFO(t *testing.T) {
	kekURI, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "keyset.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A reader blocked in open returns once a writer opens the FIFO.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})

	done := make(chan error, 1)
	go func() {
		_, err := kms.Open(context.Background(), "lab-results", "tink-keyset://"+fifo+"?kek-uri="+url.QueryEscape(kekURI))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, kms.ErrInvalidConfig) {
			t.Errorf("kms.Open(FIFO) err = %v, want ErrInvalidConfig", err)
		}
	case <-time.After(3 * time.Second):
		t.Error("kms.Open(tink-keyset FIFO) still blocked after 3s, want an error for a file that is not regular")
	}
}
