package awskms_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/awskms"
)

// TestOpenInvalidRegion checks that Open rejects a region that is not a
// region name, whether it comes from the query, the ARN or AWS_REGION. The
// SDK would reject some of them only at the first Encrypt, and would put
// others, such as attacker.example, into the endpoint host. The endpoint is
// a closed port on 127.0.0.1, so nothing leaves the machine either way.
func TestOpenInvalidRegion(t *testing.T) {
	isolateAWSEnv(t)
	const keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct{ name, uri, envRegion string }{
		{"query with slash", "aws-kms://" + keyID + "?region=attacker.example/x", ""},
		{"query host name", "aws-kms://" + keyID + "?region=attacker.example", ""},
		{"query upper case", "aws-kms://" + keyID + "?region=EU-WEST-2", ""},
		{"ARN", "aws-kms://arn:aws:kms:attacker.example/x:111122223333:key/" + keyID, ""},
		{"ARN host name", "aws-kms://arn:aws:kms:attacker.example:111122223333:key/" + keyID, ""},
		{"environment", "aws-kms://" + keyID, "attacker.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_REGION", tc.envRegion)
			kek, err := awskms.Open(t.Context(), "lab-results", tc.uri, openOpts(closedEndpoint(t))...)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("Open(ctx) err = %v, want ErrInvalidConfig for a region that is not a region name", err)
			}
			if kek != nil {
				t.Errorf("Open(ctx) KEK = %v, want nil with an error", kek)
			}
		})
	}
}

// TestOpenValidRegions checks region names of every form that AWS uses.
func TestOpenValidRegions(t *testing.T) {
	isolateAWSEnv(t)
	for _, region := range []string{"eu-west-2", "us-gov-west-1", "us-isob-east-1", "ap-southeast-7", "eusc-de-east-1", "cn-northwest-1"} {
		uri := "aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab?region=" + region
		if _, err := awskms.Open(t.Context(), "lab-results", uri, openOpts(closedEndpoint(t))...); err != nil {
			t.Errorf("Open(ctx) with region %s err = %v, want nil", region, err)
		}
	}
}

// TestOpenFailureNilKEK checks that kms.Open returns a nil KEK, not a nil
// *awskms.KEK in a non-nil interface, and that keyring.New rejects such a
// KEK instead of panicking.
func TestOpenFailureNilKEK(t *testing.T) {
	isolateAWSEnv(t)
	kek, err := kms.Open(t.Context(), "lab-results", "aws-kms://")
	if err == nil {
		t.Fatal("kms.Open(aws-kms://) err = nil, want an error")
	}
	if kek != nil {
		t.Errorf("kms.Open(aws-kms://) KEK = %#v (non-nil interface), want nil with err %v", kek, err)
	}

	var typedNil *awskms.KEK
	if r, err := keyring.New([]kms.KEK{typedNil}); err == nil {
		r.Close()
		t.Error("keyring.New(nil *awskms.KEK) err = nil, want an error")
	}
}

// TestOpenErrorsHideSecrets feeds a secret access key through the user
// information, query and path of rejected aws-kms URIs, and through the
// Endpoint option, and checks that no error contains it.
func TestOpenErrorsHideSecrets(t *testing.T) {
	isolateAWSEnv(t)
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY"
	tests := []struct {
		name string
		uri  string
		opts []awskms.Opt
	}{
		{"user info", "aws-kms://AKIDEXAMPLE:" + secret + "@alias/lab-results", nil},
		{"query value", "aws-kms://alias/lab-results?region=eu-west-2&aws_secret_access_key=" + secret, nil},
		{"query name", "aws-kms://alias/lab-results?" + secret, nil},
		{"region value", "aws-kms://alias/lab-results?region=" + secret, nil},
		{"bad escape", "aws-kms://alias/lab-results?region=" + secret + "%zz", nil},
		{"key id", "aws-kms://" + secret + "!", nil},
		{"alias", "aws-kms://alias/" + secret + "!?region=eu-west-2", nil},
		{"ARN account", "aws-kms://arn:aws:kms:eu-west-2:" + secret + "!:key/abc", nil},
		{"ARN resource", "aws-kms://arn:aws:kms:eu-west-2:111122223333:key/" + secret + "!", nil},
		{"no scheme", "aws-kms:alias/lab-results?token=" + secret, nil},
		{"endpoint user info", "aws-kms://alias/lab-results?region=eu-west-2",
			[]awskms.Opt{awskms.Endpoint("ftp://AKIDEXAMPLE:" + secret + "@127.0.0.1:1")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.opts == nil {
				_, err = kms.Open(context.Background(), "lab-results", tc.uri)
			} else {
				_, err = awskms.Open(context.Background(), "lab-results", tc.uri, tc.opts...)
			}
			if err == nil {
				t.Fatal("Open err = nil, want an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Open err = %q, contains the secret from the URI", err)
			}
		})
	}
}

// TestUnwrapAfterAliasRepointed re-points an alias after a KEK was built
// from it. Unwrap of a data key wrapped under the new key must fail with
// ErrContextMismatch and a message that names the alias and the fix, not
// only an altered record.
func TestUnwrapAfterAliasRepointed(t *testing.T) {
	endpoint := localKMS(t)
	client := newClient(endpoint)
	oldKey := createKey(t, endpoint)
	newKey := createKey(t, endpoint)
	stale := newKEK(t, client, oldKey.alias)

	_, err := client.UpdateAlias(t.Context(), &awssdk.UpdateAliasInput{AliasName: aws.String(oldKey.alias), TargetKeyId: aws.String(newKey.id)})
	if err != nil {
		t.Fatalf("UpdateAlias(ctx) err = %v", err)
	}
	fresh := newKEK(t, client, oldKey.alias)
	w, err := fresh.Wrap(t.Context(), newDEK(t), nil)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}

	_, err = stale.Unwrap(t.Context(), w, nil)
	if !errors.Is(err, kms.ErrContextMismatch) {
		t.Fatalf("Unwrap(ctx) with the stale KEK err = %v, want ErrContextMismatch", err)
	}
	if !strings.Contains(err.Error(), "re-pointed") || !strings.Contains(err.Error(), oldKey.alias) {
		t.Errorf("Unwrap(ctx) err = %v, want a message that names alias %s and says it may have been re-pointed", err, oldKey.alias)
	}
}

// TestRingDisableEnableRecovers checks that a Ring fails closed while the
// key is disabled and recovers once it is enabled again, without a
// restart.
func TestRingDisableEnableRecovers(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	kek := newKEK(t, newClient(endpoint), key.alias)
	r, err := keyring.New([]kms.KEK{kms.Retry(kek, kms.RetryPolicy{Attempts: 2, Initial: time.Millisecond})},
		keyring.FailureBackoff(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	b := envelope.Binding{Topic: "lab-results"}
	seal := func() error {
		_, _, err := r.Seal(t.Context(), "lab-results", envelope.PayloadValue, nil, []byte("v"), b)
		return err
	}
	if err := seal(); err != nil {
		t.Fatalf("Seal err = %v", err)
	}

	if _, err := key.adminClient.DisableKey(t.Context(), &awssdk.DisableKeyInput{KeyId: &key.id}); err != nil {
		t.Fatal(err)
	}
	if err := r.Rotate("lab-results"); err != nil {
		t.Fatal(err)
	}
	if err := seal(); !errors.Is(err, kms.ErrKeyDisabled) {
		t.Errorf("Seal with the key disabled err = %v, want ErrKeyDisabled", err)
	}

	if _, err := key.adminClient.EnableKey(t.Context(), &awssdk.EnableKeyInput{KeyId: &key.id}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if err := seal(); err != nil {
		t.Errorf("Seal after EnableKey err = %v, want nil", err)
	}
}
