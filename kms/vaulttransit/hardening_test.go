package vaulttransit_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/kenvelope/kenvelope/internal/testenv"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/vaulttransit"
)

// TestUnwrapTrimmedVersion checks that a version removed by
// transit/keys/NAME/trim, whose key material Vault has deleted, is
// reported as ErrKeyDestroyed. ErrVersionTooOld would promise that
// lowering min_decryption_version makes it readable again, and Vault
// refuses to lower it below min_available_version.
func TestUnwrapTrimmedVersion(t *testing.T) {
	client := vaultClient(t)
	kek, name := newAESKey(t, client)
	w1 := wrap(t, kek, topic("lab-results"))
	for range 2 {
		if err := kek.Rotate(t.Context()); err != nil {
			t.Fatalf("Rotate(ctx) err = %v", err)
		}
	}
	cfg := map[string]any{"min_decryption_version": 3, "min_encryption_version": 3}
	if _, err := client.Logical().WriteWithContext(t.Context(), "transit/keys/"+name+"/config", cfg); err != nil {
		t.Fatalf("config: %v", err)
	}
	if _, err := client.Logical().WriteWithContext(t.Context(), "transit/keys/"+name+"/trim", map[string]any{"min_available_version": 3}); err != nil {
		t.Fatalf("trim: %v", err)
	}
	if err := kek.SetMinDecryptionVersion(t.Context(), 1); err == nil {
		t.Fatal("SetMinDecryptionVersion(ctx, 1) after trim err = nil, want Vault to reject it")
	}

	_, err := kek.Unwrap(t.Context(), w1, topic("lab-results"))
	e := wantKind(t, err, kms.OpUnwrap, kms.ErrKeyDestroyed)
	if e.MinVersion != 0 {
		t.Errorf("Unwrap(ctx) of trimmed version 1 MinVersion = %d, want 0 outside ErrVersionTooOld", e.MinVersion)
	}
}

// TestOpenURIPlainHTTPNoProxy checks that a tls=false URI ignores
// VAULT_PROXY_ADDR, so the token never reaches a proxy in plain HTTP. The
// "proxy" is a listener on 127.0.0.1 that records each request and answers
// 502.
func TestOpenURIPlainHTTPNoProxy(t *testing.T) {
	const token = "hvs.PROXYTESTTOKEN"
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var mu sync.Mutex
	var seen []string
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			if req, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				mu.Lock()
				seen = append(seen, req.Method+" "+req.URL.String()+" token="+req.Header.Get("X-Vault-Token"))
				mu.Unlock()
			}
			_, _ = conn.Write([]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"))
			conn.Close()
		}
	}()
	t.Setenv("VAULT_TOKEN", token)
	t.Setenv("VAULT_MAX_RETRIES", "0")

	for _, env := range []string{"VAULT_PROXY_ADDR", "VAULT_HTTP_PROXY", "HTTP_PROXY"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "http://"+lis.Addr().String())
			_, _ = kms.Open(t.Context(), "phi", "hcvault://127.0.0.1:1/transit/keys/phi-kek?tls=false")
			mu.Lock()
			defer mu.Unlock()
			for _, s := range seen {
				t.Errorf("proxy at %s received %q, want no request through a proxy for a tls=false URI", lis.Addr(), s)
			}
			seen = nil
		})
	}
}

// TestOpenURIErrorsHideSecrets feeds a token through the user information,
// query and path of rejected hcvault URIs and checks that no error
// contains it.
func TestOpenURIErrorsHideSecrets(t *testing.T) {
	const token = "hvs.URITESTTOKEN"
	t.Setenv("VAULT_TOKEN", "unused")
	tests := []struct{ name, uri string }{
		{"user info", "hcvault://" + token + "@127.0.0.1:8200/transit/keys/phi-kek?tls=false"},
		{"password", "hcvault://root:" + token + "@127.0.0.1:8200/transit/keys/phi-kek?tls=false"},
		{"query value", "hcvault://127.0.0.1:8200/transit/keys/phi-kek?tls=false&token=" + token},
		{"query name", "hcvault://127.0.0.1:8200/transit/keys/phi-kek?" + token},
		{"tls value", "hcvault://127.0.0.1:8200/transit/keys/phi-kek?tls=" + token},
		{"no scheme", "hcvault:/127.0.0.1:8200/transit/keys/phi-kek?token=" + token},
		{"port", "hcvault://127.0.0.1:" + token + "/transit/keys/phi-kek"},
		{"bad escape", "hcvault://127.0.0.1:8200/transit/keys/" + token + "%zz"},
		{"key name", "hcvault://127.0.0.1:8200/transit/keys/" + token + "!?tls=false"},
		{"mount", "hcvault://127.0.0.1:8200/" + token + "!/keys/phi-kek?tls=false"},
		{"no keys segment", "hcvault://127.0.0.1:8200/transit/" + token + "?tls=false"},
		{"remote host", "hcvault://" + token + ".example.com/transit/keys/phi-kek?tls=false"},
		{"fragment", "hcvault://127.0.0.1:8200/transit/keys/phi-kek?tls=false#" + token},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kms.Open(t.Context(), "phi", tc.uri)
			if err == nil {
				t.Fatal("kms.Open err = nil, want an error")
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("kms.Open err = %q, contains the token from the URI", err)
			}
		})
	}
}

// TestOpenURIFailureNilKEK checks that kms.Open returns a nil KEK, not a
// nil *vaulttransit.KEK in a non-nil interface, when New fails.
func TestOpenURIFailureNilKEK(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "unused")
	t.Setenv("VAULT_MAX_RETRIES", "0")
	kek, err := kms.Open(t.Context(), "phi", "hcvault://127.0.0.1:1/transit/keys/phi-kek?tls=false")
	if err == nil {
		t.Fatal("kms.Open err = nil, want an error")
	}
	if kek != nil {
		t.Errorf("kms.Open KEK = %#v (non-nil interface), want nil with err %v", kek, err)
	}
}

// TestTokenRevokedRecovers checks that a revoked token gives ErrPermission
// and that setting a new token on the client recovers.
func TestTokenRevokedRecovers(t *testing.T) {
	root := vaultClient(t)
	addr := testenv.Get(t, testenv.VaultAddr)
	_, name := newAESKey(t, root)
	sec, err := root.Auth().Token().CreateWithContext(t.Context(), &api.TokenCreateRequest{Policies: []string{"root"}, TTL: "10m"})
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	child := newClient(t, addr, sec.Auth.ClientToken)
	kek, err := vaulttransit.New(t.Context(), child, "phi", name)
	if err != nil {
		t.Fatalf("New(ctx) err = %v", err)
	}
	w := wrap(t, kek, topic("a"))
	if err := root.Auth().Token().RevokeTreeWithContext(t.Context(), sec.Auth.ClientToken); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	_, err = kek.Unwrap(t.Context(), w, topic("a"))
	wantKind(t, err, kms.OpUnwrap, kms.ErrPermission)
	if strings.Contains(err.Error(), sec.Auth.ClientToken) {
		t.Errorf("Unwrap err = %q contains the token", err)
	}
	child.SetToken(root.Token())
	if _, err := kek.Unwrap(t.Context(), w, topic("a")); err != nil {
		t.Errorf("Unwrap(ctx) after SetToken err = %v, want nil", err)
	}
}

// TestUnusableTokenPermanent checks that a token the Vault client refuses
// to send (it contains a newline) is reported as ErrInvalidConfig, a
// permanent kind, because no retry can fix it.
func TestUnusableTokenPermanent(t *testing.T) {
	client := newClient(t, "http://127.0.0.1:1", "hvs.UNUSABLE\nTOKEN")
	_, err := vaulttransit.New(t.Context(), client, "phi", "phi-kek")
	wantKind(t, err, "open key", kms.ErrInvalidConfig)
	if kms.IsRetryable(err) {
		t.Errorf("New(ctx) with an unusable token err = %v, want a permanent kind", err)
	}
}

// TestConcurrentRotate wraps and unwraps from several goroutines while the
// key rotates. Every Wrapped must name the version of its prefix and
// unwrap again.
func TestConcurrentRotate(t *testing.T) {
	client := vaultClient(t)
	kek, _ := newAESKey(t, client)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				w, err := kek.Wrap(t.Context(), dek, topic("a"))
				if err != nil {
					t.Errorf("Wrap err = %v", err)
					return
				}
				if !strings.HasPrefix(string(w.Ciphertext), fmt.Sprintf("vault:v%d:", w.Version)) {
					t.Errorf("Wrapped.Version %d does not match its prefix", w.Version)
				}
				if _, err := kek.Unwrap(t.Context(), w, topic("a")); err != nil {
					t.Errorf("Unwrap(version %d) err = %v", w.Version, err)
					return
				}
			}
		})
	}
	for range 10 {
		if err := kek.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
