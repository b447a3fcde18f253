package vaulttransit_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
	"github.com/kenvelope/kenvelope/kms/vaulttransit"
)

// These tests run against the Vault dev server that .ci/start-vault starts
// with the transit engine mounted at transit/. Each test makes its own key.

func TestConformance(t *testing.T) {
	client := vaultClient(t)
	kmstest.Run(t, func(t *testing.T) kms.KEK {
		kek, _ := newAESKey(t, client)
		return kek
	})
}

func TestWrapCiphertextForm(t *testing.T) {
	kek, _ := newAESKey(t, vaultClient(t))
	w := wrap(t, kek, topic("lab-results"))

	if w.Version != 1 {
		t.Errorf("Wrap(ctx) Version = %d, want 1", w.Version)
	}
	if !bytes.HasPrefix(w.Ciphertext, []byte("vault:v1:")) {
		t.Errorf("Wrap(ctx) Ciphertext does not start with vault:v1:")
	}
}

func TestWrapRejectsShortKey(t *testing.T) {
	kek, _ := newAESKey(t, vaultClient(t))
	_, err := kek.Wrap(t.Context(), dek[:16], nil)
	if err == nil {
		t.Fatal("Wrap(ctx, 16-byte key) err = nil, want an error")
	}
	if kms.IsRetryable(err) {
		t.Errorf("Wrap(ctx, 16-byte key) err = %v, want a permanent error", err)
	}
}

func TestRotate(t *testing.T) {
	kek, _ := newAESKey(t, vaultClient(t))
	ec := topic("lab-results")
	w1 := wrap(t, kek, ec)

	if err := kek.Rotate(t.Context()); err != nil {
		t.Fatalf("Rotate(ctx) err = %v, want nil", err)
	}
	primary, err := kek.PrimaryVersion(t.Context())
	if err != nil {
		t.Fatalf("PrimaryVersion(ctx) err = %v, want nil", err)
	}
	if primary != 2 {
		t.Errorf("PrimaryVersion(ctx) = %d after one rotation, want 2", primary)
	}

	w2 := wrap(t, kek, ec)
	if w2.Version != 2 {
		t.Errorf("Wrap(ctx) after rotation Version = %d, want 2", w2.Version)
	}
	for _, w := range []kms.Wrapped{w1, w2} {
		got, err := kek.Unwrap(t.Context(), w, ec)
		if err != nil {
			t.Fatalf("Unwrap(ctx) of version %d err = %v, want nil", w.Version, err)
		}
		if !bytes.Equal(got, dek) {
			t.Errorf("Unwrap(ctx) of version %d returned a different key", w.Version)
		}
	}
}

func TestUnwrapVersionTooOld(t *testing.T) {
	kek, _ := newAESKey(t, vaultClient(t))
	ec := topic("lab-results")
	w1 := wrap(t, kek, ec)
	if err := kek.Rotate(t.Context()); err != nil {
		t.Fatalf("Rotate(ctx) err = %v", err)
	}
	if err := kek.SetMinDecryptionVersion(t.Context(), 2); err != nil {
		t.Fatalf("SetMinDecryptionVersion(ctx, 2) err = %v", err)
	}

	got, err := kek.Unwrap(t.Context(), w1, ec)
	if got != nil {
		t.Error("Unwrap(ctx) returned key bytes with its error, want nil")
	}
	kerr := wantKind(t, err, kms.OpUnwrap, kms.ErrVersionTooOld)
	if kerr.Version != 1 {
		t.Errorf("Unwrap(ctx) err.Version = %d, want 1", kerr.Version)
	}
	if kerr.MinVersion != 2 {
		t.Errorf("Unwrap(ctx) err.MinVersion = %d, want 2", kerr.MinVersion)
	}
	if !strings.Contains(err.Error(), "record needs version 1, minimum is 2") {
		t.Errorf("Unwrap(ctx) err = %q, want it to name version 1 and minimum 2", err)
	}
	kmstest.CheckNoLeak(t, err, dek)

	// Lowering the minimum makes version 1 readable again.
	if err := kek.SetMinDecryptionVersion(t.Context(), 1); err != nil {
		t.Fatalf("SetMinDecryptionVersion(ctx, 1) err = %v", err)
	}
	if _, err := kek.Unwrap(t.Context(), w1, ec); err != nil {
		t.Errorf("Unwrap(ctx) after lowering the minimum err = %v, want nil", err)
	}
}

func TestDeletedKey(t *testing.T) {
	client := vaultClient(t)
	kek, keyName := newAESKey(t, client)
	ec := topic("lab-results")
	w := wrap(t, kek, ec)
	if err := deleteKey(t.Context(), client, keyName); err != nil {
		t.Fatalf("delete transit key %s: %v", keyName, err)
	}

	got, err := kek.Unwrap(t.Context(), w, ec)
	if got != nil {
		t.Error("Unwrap(ctx) returned key bytes with its error, want nil")
	}
	wantKind(t, err, kms.OpUnwrap, kms.ErrKeyDestroyed)
	kmstest.CheckNoLeak(t, err, dek)

	_, err = kek.PrimaryVersion(t.Context())
	wantKind(t, err, kms.OpVersion, kms.ErrKeyDestroyed)
}

// TestKeyRecreated checks a record wrapped under version 2 of a key that
// was deleted and made again under the same name, which has only version 1.
func TestKeyRecreated(t *testing.T) {
	client := vaultClient(t)
	kek, keyName := newAESKey(t, client)
	if err := kek.Rotate(t.Context()); err != nil {
		t.Fatalf("Rotate(ctx) err = %v", err)
	}
	w := wrap(t, kek, nil)
	if err := deleteKey(t.Context(), client, keyName); err != nil {
		t.Fatalf("delete transit key %s: %v", keyName, err)
	}
	if _, err := client.Logical().WriteWithContext(t.Context(), "transit/keys/"+keyName, nil); err != nil {
		t.Fatalf("create transit key %s again: %v", keyName, err)
	}

	_, err := kek.Unwrap(t.Context(), w, nil)
	wantKind(t, err, kms.OpUnwrap, kms.ErrKeyNotFound)
}

func TestNewRejectsKey(t *testing.T) {
	client := vaultClient(t)
	tests := []struct {
		name   string
		params map[string]any
		want   error
	}{
		{"rsa-2048", map[string]any{"type": "rsa-2048"}, kms.ErrInvalidConfig},
		{"ed25519", map[string]any{"type": "ed25519"}, kms.ErrInvalidConfig},
		{"derived", map[string]any{"type": "aes256-gcm96", "derived": true}, kms.ErrInvalidConfig},
		{"convergent", map[string]any{"type": "aes256-gcm96", "derived": true, "convergent_encryption": true}, kms.ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keyName := createKey(t, client, tc.params)
			kek, err := vaulttransit.New(t.Context(), client, "phi", keyName)
			if kek != nil {
				t.Error("New(ctx) returned a KEK with its error, want nil")
			}
			wantKind(t, err, "open key", tc.want)
		})
	}
}

func TestNewRejectsConfig(t *testing.T) {
	client := vaultClient(t)
	keyName := createKey(t, client, map[string]any{"type": "aes256-gcm96"})
	tests := []struct {
		name, kekName, keyName string
		opts                   []vaulttransit.Opt
		want                   error
	}{
		{"missing key", "phi", randomName("kenvelope-missing"), nil, kms.ErrKeyNotFound},
		{"missing mount", "phi", keyName, []vaulttransit.Opt{vaulttransit.MountPath("no-such-mount")}, kms.ErrKeyNotFound},
		{"key name with slash", "phi", "a/b", nil, kms.ErrInvalidConfig},
		{"empty key name", "phi", "", nil, kms.ErrInvalidConfig},
		{"empty logical name", "", keyName, nil, kms.ErrInvalidConfig},
		{"mount with dot-dot", "phi", keyName, []vaulttransit.Opt{vaulttransit.MountPath("transit/..")}, kms.ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := vaulttransit.New(t.Context(), client, tc.kekName, tc.keyName, tc.opts...)
			wantKind(t, err, "open key", tc.want)
		})
	}
}

func TestNewNilClient(t *testing.T) {
	_, err := vaulttransit.New(t.Context(), nil, "phi", "key")
	wantKind(t, err, "open key", kms.ErrInvalidConfig)
}

// TestRSARejectsAssociatedData checks the Vault behaviour that makes New
// reject non-AEAD key types, because the server rejects associated_data
// for them.
func TestRSARejectsAssociatedData(t *testing.T) {
	client := vaultClient(t)
	keyName := createKey(t, client, map[string]any{"type": "rsa-2048"})
	body := map[string]any{
		"plaintext":       base64.StdEncoding.EncodeToString(dek),
		"associated_data": base64.StdEncoding.EncodeToString(topic("T").Bytes()),
	}
	_, err := client.Logical().WriteWithContext(t.Context(), "transit/encrypt/"+keyName, body)
	var respErr *api.ResponseError
	if !errors.As(err, &respErr) || respErr.StatusCode != 400 {
		t.Fatalf("encrypt with rsa-2048 and associated_data err = %v, want HTTP 400", err)
	}
}

func TestMountPath(t *testing.T) {
	client := vaultClient(t)
	mount := randomName("kenvelope-mount")
	if err := client.Sys().MountWithContext(t.Context(), mount, &api.MountInput{Type: "transit"}); err != nil {
		t.Fatalf("mount transit at %s: %v", mount, err)
	}
	t.Cleanup(func() { _ = client.Sys().Unmount(mount) })
	keyName := randomName("kenvelope-test")
	if _, err := client.Logical().WriteWithContext(t.Context(), mount+"/keys/"+keyName, nil); err != nil {
		t.Fatalf("create key %s/keys/%s: %v", mount, keyName, err)
	}

	kek, err := vaulttransit.New(t.Context(), client, "phi", keyName, vaulttransit.MountPath("/"+mount+"/"))
	if err != nil {
		t.Fatalf("New(ctx, MountPath(%s)) err = %v, want nil", mount, err)
	}
	w := wrap(t, kek, topic("T"))
	if _, err := kek.Unwrap(t.Context(), w, topic("T")); err != nil {
		t.Errorf("Unwrap(ctx) err = %v, want nil", err)
	}
}

// TestDocumentedPolicy checks that the policy in the package documentation
// is enough for New, Wrap, Unwrap and PrimaryVersion, and that it stops
// Wrap from making a new key after the old one was deleted.
func TestDocumentedPolicy(t *testing.T) {
	root := vaultClient(t)
	keyName := createKey(t, root, map[string]any{"type": "aes256-gcm96"})
	client := policyClient(t, root, keyName)

	kek, err := vaulttransit.New(t.Context(), client, "phi", keyName)
	if err != nil {
		t.Fatalf("New(ctx) with the documented policy err = %v, want nil", err)
	}
	ec := topic("lab-results")
	w := wrap(t, kek, ec)
	if _, err := kek.Unwrap(t.Context(), w, ec); err != nil {
		t.Errorf("Unwrap(ctx) with the documented policy err = %v, want nil", err)
	}
	if _, err := kek.PrimaryVersion(t.Context()); err != nil {
		t.Errorf("PrimaryVersion(ctx) with the documented policy err = %v, want nil", err)
	}

	err = kek.Rotate(t.Context())
	wantKind(t, err, "rotate key", kms.ErrPermission)

	if err := deleteKey(t.Context(), root, keyName); err != nil {
		t.Fatalf("delete transit key %s: %v", keyName, err)
	}
	_, err = kek.Wrap(t.Context(), dek, ec)
	wantKind(t, err, kms.OpWrap, kms.ErrPermission)
	secret, err := root.Logical().ReadWithContext(t.Context(), "transit/keys/"+keyName)
	if err != nil {
		t.Fatalf("read transit key %s: %v", keyName, err)
	}
	if secret != nil {
		t.Error("Wrap(ctx) after deletion made a new key, want none")
	}
}

// policyClient returns a client whose token has only the documented policy
// for keyName.
func policyClient(t *testing.T, root *api.Client, keyName string) *api.Client {
	t.Helper()
	policyName := randomName("kenvelope-policy")
	rules := fmt.Sprintf(`
path "transit/encrypt/%[1]s" { capabilities = ["update"] }
path "transit/decrypt/%[1]s" { capabilities = ["update"] }
path "transit/keys/%[1]s"    { capabilities = ["read"] }
`, keyName)
	if err := root.Sys().PutPolicyWithContext(t.Context(), policyName, rules); err != nil {
		t.Fatalf("write policy %s: %v", policyName, err)
	}
	t.Cleanup(func() { _ = root.Sys().DeletePolicy(policyName) })

	secret, err := root.Auth().Token().CreateWithContext(t.Context(), &api.TokenCreateRequest{
		Policies:        []string{policyName},
		NoDefaultPolicy: true,
		TTL:             "10m",
	})
	if err != nil {
		t.Fatalf("create token with policy %s: %v", policyName, err)
	}
	return newClient(t, root.Address(), secret.Auth.ClientToken)
}

// TestWrapThrottled sets a Vault rate limit quota of one request a minute
// on the key's encrypt path, so the second Wrap gets HTTP 429.
func TestWrapThrottled(t *testing.T) {
	client := vaultClient(t)
	kek, keyName := newAESKey(t, client)
	quota := randomName("kenvelope-quota")
	params := map[string]any{"path": "transit/encrypt/" + keyName, "rate": 1, "interval": "1m"}
	if _, err := client.Logical().WriteWithContext(t.Context(), "sys/quotas/rate-limit/"+quota, params); err != nil {
		t.Fatalf("create rate limit quota %s: %v", quota, err)
	}
	t.Cleanup(func() { _, _ = client.Logical().Delete("sys/quotas/rate-limit/" + quota) })

	wrap(t, kek, nil)
	_, err := kek.Wrap(t.Context(), dek, nil)
	wantKind(t, err, kms.OpWrap, kms.ErrThrottled)
	if !kms.IsRetryable(err) {
		t.Errorf("Wrap(ctx) err = %v, want retryable", err)
	}
	kmstest.CheckNoLeak(t, err, dek)
}
