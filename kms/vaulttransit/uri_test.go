package vaulttransit_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/internal/testenv"
	"github.com/kenvelope/kenvelope/kms"
	_ "github.com/kenvelope/kenvelope/kms/vaulttransit"
)

// vaultHostPort returns HOST:PORT of the dev server, whose address is
// http://127.0.0.1:PORT.
func vaultHostPort(t *testing.T) string {
	t.Helper()
	addr := testenv.Get(t, testenv.VaultAddr)
	hostPort, ok := strings.CutPrefix(addr, "http://")
	if !ok {
		t.Fatalf("%s = %q, want http://HOST:PORT", testenv.VaultAddr, addr)
	}
	return hostPort
}

func TestOpenURI(t *testing.T) {
	client := vaultClient(t)
	keyName := createKey(t, client, map[string]any{"type": "aes256-gcm96"})
	t.Setenv("VAULT_TOKEN", testenv.Get(t, testenv.VaultToken))
	// The URI alone decides the address, so these must be ignored.
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_AGENT_ADDR", "http://127.0.0.1:1")

	uri := "hcvault://" + vaultHostPort(t) + "/transit/keys/" + keyName + "?tls=false"
	kek, err := kms.Open(t.Context(), "phi", uri)
	if err != nil {
		t.Fatalf("kms.Open(ctx, %s) err = %v, want nil", uri, err)
	}
	if kek.Name() != "phi" {
		t.Errorf("Name() = %q, want phi", kek.Name())
	}
	ec := topic("lab-results")
	w := wrap(t, kek, ec)
	got, err := kek.Unwrap(t.Context(), w, ec)
	if err != nil {
		t.Fatalf("Unwrap(ctx) err = %v, want nil", err)
	}
	if !bytes.Equal(got, dek) {
		t.Error("Unwrap(ctx) returned a different key")
	}
}

func TestOpenURINoToken(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "")
	_, err := kms.Open(t.Context(), "phi", "hcvault://127.0.0.1:1/transit/keys/k?tls=false")
	wantKind(t, err, "open key", kms.ErrInvalidConfig)
}

func TestOpenURIInvalid(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "test-token")
	tests := []struct {
		name, uri string
	}{
		{"no keys segment", "hcvault://127.0.0.1:1/transit/k?tls=false"},
		{"no mount", "hcvault://127.0.0.1:1/keys/k?tls=false"},
		{"no key name", "hcvault://127.0.0.1:1/transit/keys/?tls=false"},
		{"key name with slash", "hcvault://127.0.0.1:1/transit/keys/a/b?tls=false"},
		{"no host", "hcvault:///transit/keys/k"},
		{"user info", "hcvault://token@127.0.0.1:1/transit/keys/k?tls=false"},
		{"plain HTTP to a remote host", "hcvault://vault.example.com:8200/transit/keys/k?tls=false"},
		{"plain HTTP to localhost", "hcvault://localhost:8200/transit/keys/k?tls=false"},
		{"invalid key name", "hcvault://127.0.0.1:1/transit/keys/bad%20name?tls=false"},
		{"invalid mount", "hcvault://127.0.0.1:1/a/../transit/keys/k?tls=false"},
		{"bad tls value", "hcvault://127.0.0.1:1/transit/keys/k?tls=no"},
		{"unknown parameter", "hcvault://127.0.0.1:1/transit/keys/k?tls=false&namespace=a"},
		{"fragment", "hcvault://127.0.0.1:1/transit/keys/k?tls=false#x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kms.Open(t.Context(), "phi", tc.uri)
			wantKind(t, err, "open key", kms.ErrInvalidConfig)
		})
	}
}

// TestOpenURIDefaultsToTLS opens the plain-HTTP dev server without
// tls=false. The client must speak HTTPS, so the handshake fails.
func TestOpenURIDefaultsToTLS(t *testing.T) {
	client := vaultClient(t)
	keyName := createKey(t, client, map[string]any{"type": "aes256-gcm96"})
	t.Setenv("VAULT_TOKEN", testenv.Get(t, testenv.VaultToken))
	t.Setenv("VAULT_MAX_RETRIES", "0")

	_, err := kms.Open(t.Context(), "phi", "hcvault://"+vaultHostPort(t)+"/transit/keys/"+keyName)
	wantKind(t, err, "open key", kms.ErrUnavailable)
	if err != nil && !strings.Contains(err.Error(), "HTTPS") {
		t.Errorf("kms.Open(ctx) err = %v, want a TLS failure", err)
	}
}
