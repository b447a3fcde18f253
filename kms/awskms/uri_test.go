package awskms_test

import (
	"bytes"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/awskms"
)

// isolateAWSEnv clears the environment variables and files that
// config.LoadDefaultConfig reads, and disables the EC2 instance metadata
// service, so a test's SDK configuration comes only from the test and no
// request leaves 127.0.0.1. Tests that call it cannot run in parallel.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	missing := filepath.Join(t.TempDir(), "missing")
	for _, name := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
	} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_CONFIG_FILE", missing)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// openOpts points Open at endpoint with static credentials.
func openOpts(endpoint string) []awskms.Opt {
	return []awskms.Opt{
		awskms.Endpoint(endpoint),
		awskms.LoadOptions(config.WithCredentialsProvider(staticCreds)),
	}
}

// roundTrip wraps and unwraps a new data key with kek and checks the result.
func roundTrip(t *testing.T, kek kms.KEK) {
	t.Helper()
	ec := kms.EncryptionContext{"topic": "lab-results"}
	dek := newDEK(t)
	w, err := kek.Wrap(t.Context(), dek, ec)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}
	got, err := kek.Unwrap(t.Context(), w, ec)
	if err != nil {
		t.Fatalf("Unwrap(ctx) err = %v, want nil", err)
	}
	if !bytes.Equal(got, dek) {
		t.Error("Unwrap(ctx) returned a different key from the one wrapped")
	}
}

func TestOpenURIForms(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	isolateAWSEnv(t)

	tests := []struct{ name, uri string }{
		{"key ARN", "aws-kms://" + key.arn},
		{"alias ARN", "aws-kms://" + key.aliasARN},
		{"alias name", "aws-kms://" + key.alias + "?region=" + testRegion},
		{"key id", "aws-kms://" + key.id + "?region=" + testRegion},
		{"key ARN with its region", "aws-kms://" + key.arn + "?region=" + testRegion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek, err := awskms.Open(t.Context(), "lab-results", tc.uri, openOpts(endpoint)...)
			if err != nil {
				t.Fatalf("Open(ctx, %s) err = %v, want nil", tc.uri, err)
			}
			if kek.Name() != "lab-results" {
				t.Errorf("Name() = %q, want %q", kek.Name(), "lab-results")
			}
			roundTrip(t, kek)
		})
	}
}

// TestOpenRegistered opens a KEK through kms.Open, which passes no options,
// so the endpoint, credentials and region come from the environment.
func TestOpenRegistered(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	isolateAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_KMS", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDKENVELOPETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")

	tests := []struct{ name, uri, region string }{
		{"key ARN", "aws-kms://" + key.arn, ""},
		{"alias and region from environment", "aws-kms://" + key.alias, testRegion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_REGION", tc.region)
			kek, err := kms.Open(t.Context(), "lab-results", tc.uri)
			if err != nil {
				t.Fatalf("kms.Open(ctx, %s) err = %v, want nil", tc.uri, err)
			}
			if _, ok := kek.(*awskms.KEK); !ok {
				t.Errorf("kms.Open(ctx, %s) returned %T, want *awskms.KEK", tc.uri, kek)
			}
			roundTrip(t, kek)
		})
	}
}

func TestOpenNoSDKRetries(t *testing.T) {
	isolateAWSEnv(t)
	f := newFakeKMS(t, awsError(http.StatusInternalServerError, "KMSInternalException", ""))
	kek, err := awskms.Open(t.Context(), "lab-results", "aws-kms://"+fakeARN, openOpts(f.srv.URL)...)
	if err != nil {
		t.Fatalf("Open(ctx) err = %v, want nil", err)
	}

	_, err = kek.Wrap(t.Context(), secretDEK, nil)
	if !errors.Is(err, kms.ErrUnavailable) {
		t.Fatalf("Wrap(ctx) err = %v, want ErrUnavailable", err)
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("requests = %d, want 1: the SDK must not retry", n)
	}
}

func TestOpenInvalid(t *testing.T) {
	isolateAWSEnv(t)
	arn := "arn:aws:kms:eu-west-2:111122223333:key/11111111-2222-4333-8444-555555555555"
	tests := []struct {
		name string
		uri  string
		opts []awskms.Opt
	}{
		{"other scheme", "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k", nil},
		{"no key", "aws-kms://", nil},
		{"empty alias", "aws-kms://alias/?region=eu-west-2", nil},
		{"key resource without ARN", "aws-kms://key/11111111-2222-4333-8444-555555555555", nil},
		{"space in key id", "aws-kms://abc def?region=eu-west-2", nil},
		{"ARN of another service", "aws-kms://arn:aws:s3:::bucket", nil},
		{"ARN without region", "aws-kms://arn:aws:kms::111122223333:key/abc", nil},
		{"ARN of a grant", "aws-kms://arn:aws:kms:eu-west-2:111122223333:grant/abc", nil},
		{"region differs from ARN", "aws-kms://" + arn + "?region=us-east-1", nil},
		{"two regions", "aws-kms://alias/a?region=eu-west-2&region=us-east-1", nil},
		{"empty region", "aws-kms://alias/a?region=", nil},
		{"unknown parameter", "aws-kms://alias/a?region=eu-west-2&endpoint=http://127.0.0.1:1", nil},
		{"bad query", "aws-kms://alias/a?region=%zz", nil},
		{"no region anywhere", "aws-kms://alias/a", nil},
		{"endpoint not a URL", "aws-kms://" + arn, []awskms.Opt{awskms.Endpoint("127.0.0.1:4599")}},
		{"endpoint scheme", "aws-kms://" + arn, []awskms.Opt{awskms.Endpoint("ftp://127.0.0.1:4599")}},
		{"too many grant tokens", "aws-kms://" + arn, []awskms.Opt{awskms.GrantTokens(make([]string, 11))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := awskms.Open(t.Context(), "lab-results", tc.uri, tc.opts...)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("Open(ctx, %q) err = %v, want ErrInvalidConfig", tc.uri, err)
			}
		})
	}
}
