package awskms_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/awskms"
)

func TestNewInvalid(t *testing.T) {
	client := newClient("http://127.0.0.1:1")
	tests := []struct {
		name   string
		client awskms.API
		kek    string
		keyID  string
		opts   []awskms.Opt
	}{
		{"empty name", client, "", fakeARN, nil},
		{"nil client", nil, "lab-results", fakeARN, nil},
		{"empty key id", client, "lab-results", "", nil},
		{"bad key id", client, "lab-results", "key id", nil},
		{"endpoint option", client, "lab-results", fakeARN, []awskms.Opt{awskms.Endpoint("http://127.0.0.1:1")}},
		{"load option", client, "lab-results", fakeARN, []awskms.Opt{awskms.LoadOptions(config.WithRegion("eu-west-2"))}},
		{"11 grant tokens", client, "lab-results", fakeARN, []awskms.Opt{awskms.GrantTokens(strings.Fields("a b c d e f g h i j k"))}},
		{"empty grant token", client, "lab-results", fakeARN, []awskms.Opt{awskms.GrantTokens([]string{"a", ""})}},
		{"long grant token", client, "lab-results", fakeARN, []awskms.Opt{awskms.GrantTokens([]string{strings.Repeat("t", 8193)})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := awskms.New(t.Context(), tc.client, tc.kek, tc.keyID, tc.opts...)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("New(ctx) err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestGrantTokensCopied(t *testing.T) {
	var rec callRecorder
	f := newFakeKMS(t, success(make([]byte, 184), nil, fakeARN))
	tokens := []string{"grant-token-1"}
	kek := newKEK(t, newClient(f.srv.URL, rec.add), fakeARN, awskms.GrantTokens(tokens))
	tokens[0] = "changed"

	if _, err := kek.Wrap(t.Context(), secretDEK, nil); err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}
	calls := rec.all()
	if len(calls) != 1 || len(calls[0].grantTokens) != 1 || calls[0].grantTokens[0] != "grant-token-1" {
		t.Errorf("calls = %+v, want one Encrypt with GrantTokens [grant-token-1]", calls)
	}
}

func TestWrapDEKSize(t *testing.T) {
	f := newFakeKMS(t, func(w http.ResponseWriter, _ *http.Request, op string) {
		t.Errorf("fake KMS got %s, want no request", op)
		w.WriteHeader(http.StatusInternalServerError)
	})
	kek := f.newKEK(t)
	for _, size := range []int{0, 16, 31, 33, 64} {
		_, err := kek.Wrap(t.Context(), make([]byte, size), nil)
		checkKind(t, "Wrap(ctx)", err, kms.ErrInvalidConfig, kms.OpWrap)
	}
}

func TestResolveAliasInvalidResponse(t *testing.T) {
	tests := []struct {
		name     string
		metadata map[string]string
		want     error
	}{
		{"no metadata", nil, kms.ErrInvalidResponse},
		{"no ARN", map[string]string{"KeyId": "abc"}, kms.ErrInvalidResponse},
		{"alias ARN", map[string]string{"Arn": "arn:aws:kms:eu-west-2:111122223333:alias/other"}, kms.ErrInvalidResponse},
		{"asymmetric key", map[string]string{"Arn": fakeARN, "KeySpec": "RSA_2048"}, kms.ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeKMS(t, func(w http.ResponseWriter, _ *http.Request, _ string) {
				body := map[string]any{}
				if tc.metadata != nil {
					body["KeyMetadata"] = tc.metadata
				}
				writeJSON(w, http.StatusOK, body)
			})
			_, err := awskms.New(t.Context(), newClient(f.srv.URL), "lab-results", "alias/lab-results")
			checkKind(t, "New(ctx, alias/lab-results)", err, tc.want, "resolve alias")
		})
	}
}
