package vaulttransit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/kenvelope/kenvelope/internal/testenv"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/vaulttransit"
)

// dek is the data key the tests wrap. It is readable text, so that a leak
// into an error message is easy to spot.
var dek = []byte("vaulttransit test data key, 32 b")

func topic(name string) kms.EncryptionContext { return kms.EncryptionContext{"topic": name} }

// vaultClient returns a root client for the Vault dev server that
// .ci/start-vault runs, or skips the test when there is none.
func vaultClient(t *testing.T) *api.Client {
	t.Helper()
	addr := testenv.Get(t, testenv.VaultAddr)
	token := testenv.Get(t, testenv.VaultToken)
	return newClient(t, addr, token)
}

// newClient returns a client for addr that does not retry, so that fault
// tests see each response once.
func newClient(t *testing.T, addr, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		t.Fatalf("api.DefaultConfig() Error = %v", cfg.Error)
	}
	cfg.Address = addr
	cfg.AgentAddress = ""
	cfg.MaxRetries = 0
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("api.NewClient(%s) err = %v", addr, err)
	}
	client.SetToken(token)
	return client
}

// randomName returns a fresh name, so that tests never share a key.
func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// createKey creates a transit key with params, such as {"type":
// "aes256-gcm96"}, under a random name, and deletes it when the test ends.
func createKey(t *testing.T, client *api.Client, params map[string]any) string {
	t.Helper()
	name := randomName("kenvelope-test")
	if _, err := client.Logical().WriteWithContext(t.Context(), "transit/keys/"+name, params); err != nil {
		t.Fatalf("create transit key %s %v: %v", name, params, err)
	}
	t.Cleanup(func() { _ = deleteKey(context.Background(), client, name) })
	return name
}

// newAESKey creates an aes256-gcm96 key and returns a KEK for it.
func newAESKey(t *testing.T, client *api.Client) (*vaulttransit.KEK, string) {
	t.Helper()
	keyName := createKey(t, client, map[string]any{"type": "aes256-gcm96"})
	kek, err := vaulttransit.New(t.Context(), client, "phi", keyName)
	if err != nil {
		t.Fatalf("New(ctx, %s) err = %v, want nil", keyName, err)
	}
	return kek, keyName
}

// deleteKey allows deletion of a transit key and deletes it.
func deleteKey(ctx context.Context, client *api.Client, name string) error {
	cfg := map[string]any{"deletion_allowed": true}
	if _, err := client.Logical().WriteWithContext(ctx, "transit/keys/"+name+"/config", cfg); err != nil {
		return err
	}
	_, err := client.Logical().DeleteWithContext(ctx, "transit/keys/"+name)
	return err
}

func wrap(t *testing.T, kek kms.KEK, ec kms.EncryptionContext) kms.Wrapped {
	t.Helper()
	w, err := kek.Wrap(t.Context(), dek, ec)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}
	return w
}

// wantKind checks that err is a *kms.Error of kind for op.
func wantKind(t *testing.T, err error, op kms.Op, kind error) *kms.Error {
	t.Helper()
	var kerr *kms.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("%s err = %v (%T), want a *kms.Error of kind %v", op, err, err, kind)
	}
	if kerr.Kind != kind {
		t.Errorf("%s err = %v, want kind %v", op, err, kind)
	}
	if kerr.Op != op {
		t.Errorf("%s err.Op = %q, want %q", op, kerr.Op, op)
	}
	return kerr
}
