package vaulttransit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
	"github.com/kenvelope/kenvelope/kms/vaulttransit"
)

// The tests in this file use a test double: an httptest server on
// 127.0.0.1 that imitates Vault's transit engine. A real Vault cannot be
// made to return malformed ciphertexts, wrong-length plaintexts, 5xx or
// 412 statuses on demand, so the double injects these faults. Its status
// table also has 403, 404 and 429, so that one table checks the mapping
// for every call. vault_test.go runs the rest against the real dev
// server, including a real 429 from a rate limit quota.

const doubleKey = "k"

// reply is one canned HTTP response of the double.
type reply struct {
	status int
	body   string
}

// double is a fake Vault that serves transit/keys/k as an aes256-gcm96 key
// at version 1 unless keys is set, and the given replies for encrypt and
// decrypt. A test may change the replies under mu.
type double struct {
	encrypt, decrypt, keys reply

	mu       sync.Mutex
	requests map[string]map[string]any // last JSON body per path
}

func newDouble(t *testing.T, d *double) *vaulttransit.KEK {
	t.Helper()
	if d.keys.status == 0 {
		d.keys = reply{200, `{"data":{"type":"aes256-gcm96","derived":false,"latest_version":1,"min_decryption_version":1}}`}
	}
	d.requests = map[string]map[string]any{}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)

	kek, err := vaulttransit.New(t.Context(), newClient(t, srv.URL, "test-token"), "phi", doubleKey)
	if err != nil {
		t.Fatalf("New(ctx) against the double err = %v", err)
	}
	return kek
}

func (d *double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	rep := d.record(r.URL.Path, body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = w.Write([]byte(rep.body))
}

// record stores the request body for path and returns the reply to send.
func (d *double) record(path string, body map[string]any) reply {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests[path] = body
	switch path {
	case "/v1/transit/keys/" + doubleKey:
		return d.keys
	case "/v1/transit/encrypt/" + doubleKey:
		return d.encrypt
	case "/v1/transit/decrypt/" + doubleKey:
		return d.decrypt
	default:
		return reply{404, `{"errors":[]}`}
	}
}

func (d *double) request(path string) map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests[path]
}

// goodWrapped is a well-formed version 1 transit ciphertext.
var goodWrapped = kms.Wrapped{Version: 1, Ciphertext: []byte("vault:v1:" + base64.StdEncoding.EncodeToString(make([]byte, 60)))}

func TestWrapInvalidResponse(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"empty ciphertext", `{"data":{"ciphertext":""}}`},
		{"no ciphertext", `{"data":{}}`},
		{"no data", `{}`},
		{"no prefix", `{"data":{"ciphertext":"AAAA"}}`},
		{"version not a number", `{"data":{"ciphertext":"vault:vx:AAAA"}}`},
		{"version zero", `{"data":{"ciphertext":"vault:v0:AAAA"}}`},
		{"version with sign", `{"data":{"ciphertext":"vault:v+1:AAAA"}}`},
		{"no body", `{"data":{"ciphertext":"vault:v1:"}}`},
		{"no second colon", `{"data":{"ciphertext":"vault:v1"}}`},
		{"key_version differs", `{"data":{"ciphertext":"vault:v2:AAAA","key_version":3}}`},
		{"not JSON", `<html>ok</html>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := newDouble(t, &double{encrypt: reply{200, tc.body}})
			w, err := kek.Wrap(t.Context(), dek, topic("T"))
			if w.Ciphertext != nil {
				t.Error("Wrap(ctx) returned a ciphertext with its error, want none")
			}
			wantKind(t, err, kms.OpWrap, kms.ErrInvalidResponse)
			kmstest.CheckNoLeak(t, err, dek)
		})
	}
}

func TestWrapRequestBody(t *testing.T) {
	tests := []struct {
		name   string
		ec     kms.EncryptionContext
		wantAD string // "" means no associated_data field
	}{
		{"context", topic("T"), base64.StdEncoding.EncodeToString(topic("T").Bytes())},
		{"nil context", nil, ""},
		{"empty context", kms.EncryptionContext{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &double{encrypt: reply{200, `{"data":{"ciphertext":"vault:v1:AAAA","key_version":1}}`}}
			kek := newDouble(t, d)
			if _, err := kek.Wrap(t.Context(), dek, tc.ec); err != nil {
				t.Fatalf("Wrap(ctx) err = %v, want nil", err)
			}
			body := d.request("/v1/transit/encrypt/" + doubleKey)
			if got := body["plaintext"]; got != base64.StdEncoding.EncodeToString(dek) {
				t.Error("encrypt request plaintext is not base64 of the data key")
			}
			ad, ok := body["associated_data"]
			if tc.wantAD == "" && ok {
				t.Errorf("encrypt request associated_data = %v, want none", ad)
			}
			if tc.wantAD != "" && ad != tc.wantAD {
				t.Errorf("encrypt request associated_data = %v, want %s", ad, tc.wantAD)
			}
		})
	}
}

func TestUnwrapInvalidResponse(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(dek[:16])
	long := base64.StdEncoding.EncodeToString(append(dek, 0))
	tests := []struct {
		name, body string
	}{
		{"16 bytes", `{"data":{"plaintext":"` + short + `"}}`},
		{"33 bytes", `{"data":{"plaintext":"` + long + `"}}`},
		{"empty", `{"data":{"plaintext":""}}`},
		{"missing", `{"data":{}}`},
		{"not base64", `{"data":{"plaintext":"!!!!"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := newDouble(t, &double{decrypt: reply{200, tc.body}})
			got, err := kek.Unwrap(t.Context(), goodWrapped, topic("T"))
			if got != nil {
				t.Error("Unwrap(ctx) returned key bytes with its error, want nil")
			}
			wantKind(t, err, kms.OpUnwrap, kms.ErrInvalidResponse)
			kmstest.CheckNoLeak(t, err, dek)
		})
	}
}

func TestUnwrapWrappedMismatch(t *testing.T) {
	tests := []struct {
		name string
		w    kms.Wrapped
	}{
		{"version differs", kms.Wrapped{Version: 2, Ciphertext: goodWrapped.Ciphertext}},
		{"version zero", kms.Wrapped{Version: 0, Ciphertext: goodWrapped.Ciphertext}},
		{"no prefix", kms.Wrapped{Version: 1, Ciphertext: []byte("AAAA")}},
		{"empty", kms.Wrapped{Version: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &double{decrypt: reply{200, `{"data":{"plaintext":"` + base64.StdEncoding.EncodeToString(dek) + `"}}`}}
			kek := newDouble(t, d)
			_, err := kek.Unwrap(t.Context(), tc.w, nil)
			wantKind(t, err, kms.OpUnwrap, kms.ErrContextMismatch)
			if d.request("/v1/transit/decrypt/"+doubleKey) != nil {
				t.Error("Unwrap(ctx) sent a decrypt request, want the mismatch caught locally")
			}
		})
	}
}

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		name  string
		reply reply
		want  error
	}{
		{"429", reply{429, `{"errors":["request path \"transit/encrypt/k\": rate limit quota exceeded"]}`}, kms.ErrThrottled},
		{"500", reply{500, `{"errors":["internal error"]}`}, kms.ErrUnavailable},
		{"502 not JSON", reply{502, `<html>Bad Gateway</html>`}, kms.ErrUnavailable},
		{"503 sealed", reply{503, `{"errors":["Vault is sealed"]}`}, kms.ErrUnavailable},
		{"412", reply{412, `{"errors":["required index state not present"]}`}, kms.ErrUnavailable},
		{"403", reply{403, `{"errors":["permission denied"]}`}, kms.ErrPermission},
		{"404", reply{404, `{"errors":["no handler for route"]}`}, kms.ErrKeyDestroyed},
		{"404 empty", reply{404, ``}, kms.ErrKeyDestroyed},
		{"400 other", reply{400, `{"errors":["padding_scheme invalid"]}`}, kms.ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := newDouble(t, &double{encrypt: tc.reply, decrypt: tc.reply})
			_, err := kek.Wrap(t.Context(), dek, topic("T"))
			wantKind(t, err, kms.OpWrap, tc.want)
			kmstest.CheckNoLeak(t, err, dek)

			_, err = kek.Unwrap(t.Context(), goodWrapped, topic("T"))
			kerr := wantKind(t, err, kms.OpUnwrap, tc.want)
			if kerr != nil && kerr.Version != 1 {
				t.Errorf("Unwrap(ctx) err.Version = %d, want 1", kerr.Version)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Unwrap(ctx) err = %q, want one line", err)
			}
		})
	}
}

func TestPrimaryVersionStatus(t *testing.T) {
	tests := []struct {
		name  string
		reply reply
		want  error
	}{
		{"429", reply{429, `{"errors":["rate limit quota exceeded"]}`}, kms.ErrThrottled},
		{"500", reply{500, `{"errors":["internal error"]}`}, kms.ErrUnavailable},
		{"404", reply{404, `{"errors":[]}`}, kms.ErrKeyDestroyed},
		{"latest_version zero", reply{200, `{"data":{"type":"aes256-gcm96","latest_version":0,"min_decryption_version":1}}`}, kms.ErrInvalidResponse},
		{"latest_version string", reply{200, `{"data":{"type":"aes256-gcm96","latest_version":"2","min_decryption_version":1}}`}, kms.ErrInvalidResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &double{}
			kek := newDouble(t, d)
			d.mu.Lock()
			d.keys = tc.reply
			d.mu.Unlock()
			_, err := kek.PrimaryVersion(t.Context())
			wantKind(t, err, kms.OpVersion, tc.want)
		})
	}
}

// TestUnwrapTimeout uses a handler that does not reply before the
// context deadline.
func TestUnwrapTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/transit/keys/") {
			_, _ = w.Write([]byte(`{"data":{"type":"aes256-gcm96","latest_version":1,"min_decryption_version":1}}`))
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	kek, err := vaulttransit.New(t.Context(), newClient(t, srv.URL, "test-token"), "phi", doubleKey)
	if err != nil {
		t.Fatalf("New(ctx) err = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = kek.Unwrap(ctx, goodWrapped, nil)
	wantKind(t, err, kms.OpUnwrap, kms.ErrUnavailable)
	if !kms.IsRetryable(err) {
		t.Errorf("Unwrap(ctx) err = %v, want retryable", err)
	}
}

// TestConnectionRefused needs no double: it uses a port with no listener.
func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()

	_, err = vaulttransit.New(t.Context(), newClient(t, addr, "test-token"), "phi", doubleKey)
	wantKind(t, err, "open key", kms.ErrUnavailable)
}
