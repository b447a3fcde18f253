package tinkkms_test

import (
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/testing/fakekms"
)

func TestConformance(t *testing.T) {
	t.Run("FromKeyset", func(t *testing.T) {
		kmstest.Run(t, func(t *testing.T) kms.KEK {
			return newKeysetKEK(t, newHandle(t, aead.AES256GCMKeyTemplate()))
		})
	})
	t.Run("New", func(t *testing.T) {
		kmstest.Run(t, func(t *testing.T) kms.KEK {
			k, err := tinkkms.New("plain", primitive(t, newHandle(t, aead.XChaCha20Poly1305KeyTemplate())))
			if err != nil {
				t.Fatalf("New() err = %v", err)
			}
			return k
		})
	})
	t.Run("FromKeyURI", func(t *testing.T) {
		kmstest.Run(t, func(t *testing.T) kms.KEK {
			uri, err := fakekms.NewKeyURI()
			if err != nil {
				t.Fatalf("fakekms.NewKeyURI() err = %v", err)
			}
			k, err := tinkkms.FromKeyURI(t.Context(), "remote", uri)
			if err != nil {
				t.Fatalf("FromKeyURI() err = %v", err)
			}
			return k
		})
	})
}
