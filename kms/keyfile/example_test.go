package keyfile_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

func Example() {
	dir, err := os.MkdirTemp("", "keyfile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Open creates the key file, mode 0600, with one random version.
	kek, err := keyfile.Open(filepath.Join(dir, "lab-results.json"), "lab-results")
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	dek := make([]byte, 32)
	_, _ = rand.Read(dek)
	ec := kms.EncryptionContext{"topic": "lab-results"}
	wrapped, err := kek.Wrap(ctx, dek, ec)
	if err != nil {
		log.Fatal(err)
	}
	got, err := kek.Unwrap(ctx, wrapped, ec)
	fmt.Println("version:", wrapped.Version, "same key:", bytes.Equal(got, dek), "err:", err)

	_, err = kek.Unwrap(ctx, wrapped, kms.EncryptionContext{"topic": "billing"})
	fmt.Println("other topic:", errors.Is(err, kms.ErrContextMismatch))
	// Output:
	// version: 1 same key: true err: <nil>
	// other topic: true
}

func ExampleKEK_Rotate() {
	kek, err := keyfile.FromBytes("lab-results", bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ec := kms.EncryptionContext{"topic": "lab-results"}
	old, err := kek.Wrap(ctx, []byte("data key"), ec)
	if err != nil {
		log.Fatal(err)
	}

	v, err := kek.Rotate()
	fmt.Println("new primary version:", v, err)

	// Old data keys unwrap until their version is below the minimum.
	_, err = kek.Unwrap(ctx, old, ec)
	fmt.Println("unwrap version 1:", err)
	if err := kek.SetMinVersion(2); err != nil {
		log.Fatal(err)
	}
	_, err = kek.Unwrap(ctx, old, ec)
	fmt.Println("after SetMinVersion(2):", errors.Is(err, kms.ErrVersionTooOld))
	// Output:
	// new primary version: 2 <nil>
	// unwrap version 1: <nil>
	// after SetMinVersion(2): true
}
