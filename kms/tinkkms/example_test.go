package tinkkms_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// ExampleFromKeyset wraps a data key, rotates the keyset and unwraps the
// key wrapped before the rotation.
func ExampleFromKeyset() {
	ctx := context.Background()
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		log.Fatal(err)
	}
	kek, err := tinkkms.FromKeyset("lab-results", h)
	if err != nil {
		log.Fatal(err)
	}
	ec := kms.EncryptionContext{"topic": "lab-results"}
	dek := bytes.Repeat([]byte{7}, 32) // use crypto/rand for a real key
	wrapped, err := kek.Wrap(ctx, dek, ec)
	if err != nil {
		log.Fatal(err)
	}

	// Rotate: add a key, make it primary and hand the keyset to the KEK.
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		log.Fatal(err)
	}
	if err := m.SetPrimary(id); err != nil {
		log.Fatal(err)
	}
	rotated, err := m.Handle()
	if err != nil {
		log.Fatal(err)
	}
	if err := kek.SetKeyset(rotated); err != nil {
		log.Fatal(err)
	}

	primary, _ := kek.PrimaryVersion(ctx)
	fmt.Println("primary changed:", primary != wrapped.Version)
	got, err := kek.Unwrap(ctx, wrapped, ec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("old key unwraps:", bytes.Equal(got, dek))
	// Output:
	// primary changed: true
	// old key unwraps: true
}
