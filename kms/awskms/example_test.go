package awskms_test

import (
	"context"
	"log"

	"github.com/kenvelope/kenvelope/kms"
	_ "github.com/kenvelope/kenvelope/kms/awskms" // registers aws-kms://
)

// The example opens a KEK by its key URI. Credentials come from the SDK's
// default configuration, such as the instance role on EC2.
func Example() {
	ctx := context.Background()
	kek, err := kms.Open(ctx, "lab-results", "aws-kms://arn:aws:kms:eu-west-2:111122223333:alias/lab-results")
	if err != nil {
		log.Fatal(err)
	}

	dek := make([]byte, 32) // a data key from crypto/rand in real use
	ec := kms.EncryptionContext{"topic": "lab-results"}
	w, err := kek.Wrap(ctx, dek, ec)
	if err != nil {
		log.Fatal(err)
	}
	dek, err = kek.Unwrap(ctx, w, ec)
	if err != nil {
		log.Fatal(err)
	}
	defer clear(dek)
}
