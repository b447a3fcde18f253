package awskms_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kenvelope/kenvelope/internal/backendtest"
	"github.com/kenvelope/kenvelope/internal/testenv"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/awskms"
)

// TestBehaviour runs the shared backend scenarios against the shared
// local-kms, with a new key for each scenario. The KEK reaches local-kms
// through a local proxy, so that an outage cuts only its connections.
// Rotation needs a private local-kms and is tested by
// TestScheduledRotation.
func TestBehaviour(t *testing.T) {
	backendtest.Run(t, backendtest.Backend{Name: "awskms", NewKey: newBehaviourKey})
}

func newBehaviourKey(t *testing.T) *backendtest.Key {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("parse local-kms endpoint %s: %v", endpoint, err)
	}
	proxy := backendtest.NewProxy(t, u.Host)
	kek := newKEK(t, newClient("http://"+proxy.Addr()), key.arn)

	return &backendtest.Key{
		KEK: kek,
		RotateNote: "AWS KMS rotates key material behind one key id and reports Version 0, and local-kms " +
			"rotates only on a schedule (no RotateKeyOnDemand), so TestScheduledRotation covers it",
		// Deletion is always scheduled in AWS KMS, and a key pending
		// deletion can neither encrypt nor decrypt.
		Destroy: func(ctx context.Context) error {
			_, err := key.adminClient.ScheduleKeyDeletion(ctx, &awssdk.ScheduleKeyDeletionInput{
				KeyId: &key.id, PendingWindowInDays: aws.Int32(7),
			})
			return err
		},
		MinVersionNote: "AWS KMS has no visible versions and no minimum: every backing key of a KMS key " +
			"decrypts until the whole key is deleted",
		Outages: map[backendtest.Fault]backendtest.Outage{
			backendtest.Unreachable: proxy.Refuse(),
			backendtest.Hanging:     proxy.Hang(),
		},
		OutageNotes: map[backendtest.Fault]string{
			backendtest.Throttled: "local-kms has no rate limit, so it never throttles. fake_test.go checks with an " +
				"HTTP double that ThrottlingException maps to kms.ErrThrottled",
		},
	}
}

// BenchmarkRoundTrip measures Wrap and Unwrap of a 32-byte DEK through
// local-kms, which is two HTTP requests on 127.0.0.1.
func BenchmarkRoundTrip(b *testing.B) {
	client := newClient(testenv.Get(b, testenv.AWSKMSEndpoint))
	out, err := client.CreateKey(b.Context(), &awssdk.CreateKeyInput{Description: aws.String("kenvelope benchmark")})
	if err != nil {
		b.Fatal(err)
	}
	kek, err := awskms.New(b.Context(), client, "lab-results", *out.KeyMetadata.Arn)
	if err != nil {
		b.Fatal(err)
	}
	dek := make([]byte, 32)
	ec := kms.EncryptionContext{"topic": "T"}
	for b.Loop() {
		w, err := kek.Wrap(b.Context(), dek, ec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kek.Unwrap(b.Context(), w, ec); err != nil {
			b.Fatal(err)
		}
	}
}
