package keyring_test

import (
	"testing"

	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// TestNewTypedNilKEK passes a nil *keyfile.KEK, which a kms.KEK interface
// holds as a non-nil value, as happens when a constructor's error is
// ignored. New must return an error, not panic.
func TestNewTypedNilKEK(t *testing.T) {
	var nilKEK *keyfile.KEK
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("keyring.New(nil *keyfile.KEK) panicked: %v, want an error", p)
		}
	}()
	if r, err := keyring.New([]kms.KEK{nilKEK}); err == nil {
		r.Close()
		t.Error("keyring.New(nil *keyfile.KEK) err = nil, want an error")
	}
}
