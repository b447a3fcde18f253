package vaulttransit_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/kenvelope/kenvelope/internal/backendtest"
	"github.com/kenvelope/kenvelope/internal/testenv"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/vaulttransit"
)

// TestBehaviour runs the shared backend scenarios against the Vault dev
// server, with a new transit key for each scenario. The KEK reaches Vault
// through a local proxy, so that an outage cuts only its connections and
// not the shared server. A rate limit quota on the key's encrypt path
// makes Vault itself throttle.
func TestBehaviour(t *testing.T) {
	backendtest.Run(t, backendtest.Backend{Name: "vaulttransit", NewKey: newBehaviourKey})
}

func newBehaviourKey(t *testing.T) *backendtest.Key {
	root := vaultClient(t)
	keyName := createKey(t, root, map[string]any{"type": "aes256-gcm96"})
	admin, err := vaulttransit.New(t.Context(), root, "phi", keyName)
	if err != nil {
		t.Fatalf("New(ctx, %s) err = %v", keyName, err)
	}

	addr, err := url.Parse(root.Address())
	if err != nil {
		t.Fatalf("parse Vault address %s: %v", root.Address(), err)
	}
	proxy := backendtest.NewProxy(t, addr.Host)
	client := newClient(t, "http://"+proxy.Addr(), testenv.Get(t, testenv.VaultToken))
	kek, err := vaulttransit.New(t.Context(), client, "phi", keyName)
	if err != nil {
		t.Fatalf("New(ctx, %s) through the proxy err = %v", keyName, err)
	}

	return &backendtest.Key{
		KEK:           kek,
		Rotate:        admin.Rotate,
		Destroy:       func(ctx context.Context) error { return deleteKey(ctx, root, keyName) },
		SetMinVersion: admin.SetMinDecryptionVersion,
		Outages: map[backendtest.Fault]backendtest.Outage{
			backendtest.Unreachable: proxy.Refuse(),
			backendtest.Hanging:     proxy.Hang(),
			backendtest.Throttled:   &quotaOutage{root: root, keyName: keyName},
		},
	}
}

// quotaOutage throttles Wrap with a Vault rate limit quota of one request
// a minute on the key's encrypt path.
type quotaOutage struct {
	root    *api.Client
	keyName string
	quota   string
}

func (o *quotaOutage) Begin(t *testing.T) {
	t.Helper()
	o.quota = randomName("kenvelope-quota")
	params := map[string]any{"path": "transit/encrypt/" + o.keyName, "rate": 1, "interval": "1m"}
	if _, err := o.root.Logical().WriteWithContext(t.Context(), "sys/quotas/rate-limit/"+o.quota, params); err != nil {
		t.Fatalf("create rate limit quota %s: %v", o.quota, err)
	}
	t.Cleanup(func() { _, _ = o.root.Logical().Delete("sys/quotas/rate-limit/" + o.quota) })

	// Use up the one request the quota allows, so the next Wrap is
	// rejected.
	body := map[string]any{"plaintext": "AA=="}
	for range 3 {
		_, err := o.root.Logical().WriteWithContext(t.Context(), "transit/encrypt/"+o.keyName, body)
		var rerr *api.ResponseError
		if errors.As(err, &rerr) && rerr.StatusCode == 429 {
			return
		}
	}
	t.Fatal("Vault did not throttle the encrypt path after its rate limit quota was set")
}

func (o *quotaOutage) End(t *testing.T) {
	t.Helper()
	if _, err := o.root.Logical().DeleteWithContext(t.Context(), "sys/quotas/rate-limit/"+o.quota); err != nil {
		t.Fatalf("delete rate limit quota %s: %v", o.quota, err)
	}
}

// BenchmarkRoundTrip measures Wrap and Unwrap of a 32-byte DEK through the
// Vault dev server, which is two HTTP requests on 127.0.0.1.
func BenchmarkRoundTrip(b *testing.B) {
	addr := testenv.Get(b, testenv.VaultAddr)
	token := testenv.Get(b, testenv.VaultToken)
	cfg := api.DefaultConfig()
	cfg.Address, cfg.AgentAddress, cfg.MaxRetries = addr, "", 0
	client, err := api.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	client.SetToken(token)
	keyName := randomName("kenvelope-bench")
	if _, err := client.Logical().Write("transit/keys/"+keyName, map[string]any{"type": "aes256-gcm96"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = deleteKey(context.Background(), client, keyName) })
	kek, err := vaulttransit.New(b.Context(), client, "phi", keyName)
	if err != nil {
		b.Fatal(err)
	}

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
