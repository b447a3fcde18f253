// Package testenv finds the external services that integration tests use.
// .ci/run starts each service on 127.0.0.1 and exports its address in an
// environment variable; outside CI a test whose service is missing is
// skipped, and in CI (CI=true) it fails, so a broken install step cannot
// pass unnoticed.
package testenv

import (
	"os"
	"testing"
)

// Environment variables that .ci/run sets.
const (
	// AWSKMSEndpoint is the URL of a local-kms server.
	AWSKMSEndpoint = "KENVELOPE_AWSKMS_ENDPOINT"
	// VaultAddr is the URL of a Vault dev server with transit enabled.
	VaultAddr = "KENVELOPE_VAULT_ADDR"
	// VaultToken is the root token of that Vault dev server.
	VaultToken = "KENVELOPE_VAULT_TOKEN"
)

// Get returns the value of the environment variable name. When it is unset
// the test is skipped, or failed when CI=true.
func Get(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set: .ci/run must start this service in CI", name)
	}
	t.Skipf("%s is not set; run .ci/run to start the service", name)
	return ""
}
