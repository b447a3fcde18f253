package gcpkms_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/gcpkms"
)

// TestDisabledKeyNamedDestroyed checks that a disabled version of a crypto
// key whose id contains DESTROYED or DESTROY_SCHEDULED, both valid ids, is
// reported as disabled: the state, not the name in the message, decides.
func TestDisabledKeyNamedDestroyed(t *testing.T) {
	srv := startFake(t)
	for _, id := range []string{"DESTROYED-archive", "DESTROY_SCHEDULED-test"} {
		keyName := "projects/test-project/locations/global/keyRings/phi/cryptoKeys/" + id
		if err := srv.CreateKey(keyName); err != nil {
			t.Fatal(err)
		}
		kek, err := gcpkms.New(t.Context(), withoutRetries(newClient(t, srv)), testKEKName, keyName)
		if err != nil {
			t.Fatal(err)
		}
		w := wrap(t, kek, topicEC())
		if err := srv.DisableVersion(keyName, 1); err != nil {
			t.Fatal(err)
		}
		_, err = kek.Wrap(t.Context(), testDEK, topicEC())
		if !errors.Is(err, kms.ErrKeyDisabled) {
			t.Errorf("Wrap(ctx) with version 1 of %s disabled err = %v, want ErrKeyDisabled", id, err)
		}
		_, err = kek.Unwrap(t.Context(), w, topicEC())
		if !errors.Is(err, kms.ErrKeyDisabled) {
			t.Errorf("Unwrap(ctx) with version 1 of %s disabled err = %v, want ErrKeyDisabled", id, err)
		}
	}
}

// TestOpenURIErrorsHideSecrets feeds an access token through the user
// information, query and path of rejected gcp-kms URIs and checks that no
// error contains it. No client is created, because each URI fails its
// check first.
func TestOpenURIErrorsHideSecrets(t *testing.T) {
	const secret = "ya29.URITESTACCESSTOKEN"
	const keyRing = "projects/test-project/locations/global/keyRings/phi"
	tests := []struct{ name, uri string }{
		{"user info", "gcp-kms://oauth2:" + secret + "@" + testKeyName},
		{"query", "gcp-kms://" + testKeyName + "?access_token=" + secret},
		{"fragment", "gcp-kms://" + testKeyName + "#" + secret},
		{"project", "gcp-kms://projects/" + secret + "!/locations/global/keyRings/phi/cryptoKeys/k"},
		{"location", "gcp-kms://projects/p/locations/" + secret + "/keyRings/phi/cryptoKeys/k"},
		{"crypto key id", "gcp-kms://" + keyRing + "/cryptoKeys/" + secret},
		{"first word", "gcp-kms://" + secret + "/p/locations/global/keyRings/phi/cryptoKeys/k"},
		{"version", "gcp-kms://" + testKeyName + "/cryptoKeyVersions/" + secret},
		{"too many segments", "gcp-kms://" + testKeyName + "/" + secret},
		{"no scheme", "gcp-kms:" + testKeyName + "?access_token=" + secret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kms.Open(t.Context(), testKEKName, tc.uri)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("kms.Open err = %v, want ErrInvalidConfig", err)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("kms.Open err = %q, contains the token from the URI", err)
			}
		})
	}
}
