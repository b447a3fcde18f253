package awskms_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/awskms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// fakeARN is the key ARN that the fake KMS pretends to hold.
const fakeARN = "arn:aws:kms:eu-west-2:111122223333:key/11111111-2222-4333-8444-555555555555"

// secretDEK is a data key in readable text, so a leak into an error message
// is easy to spot.
var secretDEK = []byte("awskms test: secret data key 32b")

// fakeKMS is an HTTP server on 127.0.0.1 that responds to AWS KMS JSON 1.1
// requests with canned responses. It is a test double for what local-kms
// cannot produce: throttling, internal errors, dropped connections and
// malformed successful responses. Tests use local-kms for everything else.
type fakeKMS struct {
	srv      *httptest.Server
	requests atomic.Int64
}

// newFakeKMS starts a fake KMS whose responses come from reply, called with
// the operation name, such as "Encrypt".
func newFakeKMS(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, op string)) *fakeKMS {
	t.Helper()
	f := &fakeKMS{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		reply(w, r, strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService."))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// newKEK returns a KEK on fakeARN whose client calls the fake KMS.
func (f *fakeKMS) newKEK(t *testing.T) *awskms.KEK {
	t.Helper()
	return newKEK(t, newClient(f.srv.URL), fakeARN)
}

// writeJSON writes an AWS JSON 1.1 response with the given status and body.
func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// awsError returns a reply with an AWS error code and message.
func awsError(status int, code, message string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, status, map[string]string{"__type": code, "message": message})
	}
}

// rawReply returns a reply with a fixed status, content type and body.
func rawReply(status int, contentType, body string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// success returns a reply that responds to Encrypt with blob and Decrypt with
// plaintext, both under keyID.
func success(blob, plaintext []byte, keyID string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, op string) {
		switch op {
		case "Encrypt":
			writeJSON(w, 200, map[string]any{"CiphertextBlob": blob, "KeyId": keyID})
		case "Decrypt":
			writeJSON(w, 200, map[string]any{"Plaintext": plaintext, "KeyId": keyID})
		default:
			writeJSON(w, 400, map[string]string{"__type": "UnsupportedOperationException"})
		}
	}
}

// invalidState returns a reply that fails Encrypt and Decrypt with a
// KMSInvalidStateException whose message names no state. It responds to
// DescribeKey with state, or fails it when state is empty.
func invalidState(state string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, op string) {
		if op != "DescribeKey" {
			awsError(400, "KMSInvalidStateException", "the key is not usable now")(w, r, op)
			return
		}
		if state == "" {
			awsError(400, "AccessDeniedException", "no kms:DescribeKey")(w, r, op)
			return
		}
		writeJSON(w, 200, map[string]any{"KeyMetadata": map[string]string{"Arn": fakeARN, "KeyId": "11111111-2222-4333-8444-555555555555", "KeyState": state}})
	}
}

// dropConnection closes the connection without a response.
func dropConnection(w http.ResponseWriter, _ *http.Request, _ string) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// blockReply blocks until the client gives up or 5 seconds pass. It reads
// the body first, because only then does the server watch the connection
// and cancel r.Context() when the client closes it.
func blockReply(w http.ResponseWriter, r *http.Request, _ string) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

// fakeWrapped is a wrapped key of a plausible length for the fake KMS.
func fakeWrapped() kms.Wrapped {
	return kms.Wrapped{Ciphertext: []byte(strings.Repeat("w", 184))}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name  string
		reply func(http.ResponseWriter, *http.Request, string)
		want  error
	}{
		{"throttling", awsError(400, "ThrottlingException", "Rate exceeded"), kms.ErrThrottled},
		{"limit exceeded", awsError(400, "LimitExceededException", "too many requests"), kms.ErrThrottled},
		{"request limit exceeded", awsError(400, "RequestLimitExceeded", ""), kms.ErrThrottled},
		{"429 unknown code", awsError(429, "SlowDown", ""), kms.ErrThrottled},
		{"internal", awsError(500, "KMSInternalException", ""), kms.ErrUnavailable},
		{"dependency timeout", awsError(503, "DependencyTimeoutException", ""), kms.ErrUnavailable},
		{"key unavailable", awsError(500, "KeyUnavailableException", ""), kms.ErrUnavailable},
		{"500 unknown code", awsError(500, "InternalFailure", ""), kms.ErrUnavailable},
		{"503 empty body", rawReply(503, "text/plain", ""), kms.ErrUnavailable},
		{"502 html body", rawReply(502, "text/html", "<html>bad gateway</html>"), kms.ErrUnavailable},
		{"dropped connection", dropConnection, kms.ErrUnavailable},
		{"disabled", awsError(400, "DisabledException", "key is disabled."), kms.ErrKeyDisabled},
		{"not found", awsError(400, "NotFoundException", ""), kms.ErrKeyNotFound},
		{"access denied", awsError(400, "AccessDeniedException", ""), kms.ErrPermission},
		{"unrecognized client", awsError(400, "UnrecognizedClientException", ""), kms.ErrPermission},
		{"invalid state pending deletion", awsError(400, "KMSInvalidStateException", fakeARN+" is pending deletion."), kms.ErrKeyDestroyed},
		{"invalid state disabled", awsError(400, "KMSInvalidStateException", fakeARN+" is disabled."), kms.ErrKeyDisabled},
		{"invalid state read PendingDeletion", invalidState("PendingDeletion"), kms.ErrKeyDestroyed},
		{"invalid state read PendingReplicaDeletion", invalidState("PendingReplicaDeletion"), kms.ErrKeyDestroyed},
		{"invalid state read Updating", invalidState("Updating"), kms.ErrUnavailable},
		{"invalid state read Disabled", invalidState("Disabled"), kms.ErrKeyDisabled},
		{"invalid state unreadable", invalidState(""), kms.ErrKeyDisabled},
		{"validation", awsError(400, "ValidationException", ""), kms.ErrInvalidConfig},
		{"invalid key usage", awsError(400, "InvalidKeyUsageException", ""), kms.ErrInvalidConfig},
		{"unknown 400 code", awsError(400, "SomeNewException", ""), kms.ErrInvalidConfig},
		{"200 malformed JSON", rawReply(200, "application/x-amz-json-1.1", "{not json"), kms.ErrInvalidResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := newFakeKMS(t, tc.reply).newKEK(t)

			_, err := kek.Wrap(t.Context(), secretDEK, kms.EncryptionContext{"topic": "lab-results"})
			checkFault(t, "Wrap(ctx)", err, tc.want, kms.OpWrap)

			_, err = kek.Unwrap(t.Context(), fakeWrapped(), kms.EncryptionContext{"topic": "lab-results"})
			checkFault(t, "Unwrap(ctx)", err, tc.want, kms.OpUnwrap)
		})
	}
}

func TestWrapInvalidResponse(t *testing.T) {
	tests := []struct {
		name  string
		blob  []byte
		keyID string
	}{
		{"empty ciphertext", nil, fakeARN},
		{"short ciphertext", make([]byte, 59), fakeARN},
		{"long ciphertext", make([]byte, 6145), fakeARN},
		{"other key", make([]byte, 184), strings.Replace(fakeARN, "1111", "9999", 1)},
		{"no key id", make([]byte, 184), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := newFakeKMS(t, success(tc.blob, nil, tc.keyID)).newKEK(t)
			_, err := kek.Wrap(t.Context(), secretDEK, nil)
			checkFault(t, "Wrap(ctx)", err, kms.ErrInvalidResponse, kms.OpWrap)
		})
	}
}

func TestUnwrapInvalidResponse(t *testing.T) {
	tests := []struct {
		name      string
		plaintext []byte
		keyID     string
	}{
		{"empty key", nil, fakeARN},
		{"31-byte key", secretDEK[:31], fakeARN},
		{"33-byte key", append([]byte("x"), secretDEK...), fakeARN},
		{"other key", secretDEK, strings.Replace(fakeARN, "1111", "9999", 1)},
		{"no key id", secretDEK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := newFakeKMS(t, success(nil, tc.plaintext, tc.keyID)).newKEK(t)
			got, err := kek.Unwrap(t.Context(), fakeWrapped(), nil)
			checkFault(t, "Unwrap(ctx)", err, kms.ErrInvalidResponse, kms.OpUnwrap)
			if got != nil {
				t.Error("Unwrap(ctx) returned key bytes with its error, want nil")
			}
		})
	}
}

func TestUnwrapKeyIDSuffix(t *testing.T) {
	f := newFakeKMS(t, success(nil, secretDEK, fakeARN))
	tests := []struct {
		keyID string
		want  error
	}{
		{"11111111-2222-4333-8444-555555555555", nil},
		{"22222222-2222-4333-8444-555555555555", kms.ErrInvalidResponse},
		{"2222-4333-8444-555555555555", kms.ErrInvalidResponse},
	}
	for _, tc := range tests {
		t.Run(tc.keyID, func(t *testing.T) {
			kek := newKEK(t, newClient(f.srv.URL), tc.keyID)
			_, err := kek.Unwrap(t.Context(), fakeWrapped(), nil)
			if tc.want == nil && err != nil {
				t.Fatalf("Unwrap(ctx) err = %v, want nil", err)
			}
			if tc.want != nil {
				checkFault(t, "Unwrap(ctx)", err, tc.want, kms.OpUnwrap)
			}
		})
	}
}

// checkFault checks that err is a *kms.Error of kind want for op, that it
// is retryable exactly when the kind is, and that it does not contain the
// data key.
func checkFault(t *testing.T, call string, err, want error, op kms.Op) {
	t.Helper()
	checkKind(t, call, err, want, op)
	retryable := want == kms.ErrThrottled || want == kms.ErrUnavailable || want == kms.ErrInvalidResponse
	if kms.IsRetryable(err) != retryable {
		t.Errorf("%s IsRetryable(err) = %v, want %v", call, !retryable, retryable)
	}
	kmstest.CheckNoLeak(t, err, secretDEK)
}

func TestContextEnds(t *testing.T) {
	f := newFakeKMS(t, blockReply)
	kek := f.newKEK(t)

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	timedOut, cancelTimeout := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelTimeout()

	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline", timedOut, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kek.Unwrap(tc.ctx, fakeWrapped(), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unwrap(ctx) err = %v, want %v", err, tc.want)
			}
			var kerr *kms.Error
			if errors.As(err, &kerr) {
				t.Errorf("Unwrap(ctx) err = %v, want the context's error, not a *kms.Error", err)
			}
			if kms.IsRetryable(err) {
				t.Errorf("Unwrap(ctx) err = %v, want a permanent error", err)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	tests := []struct {
		name     string
		endpoint func(t *testing.T) string
		client   *http.Client
	}{
		{"connection refused", closedEndpoint, nil},
		{"client timeout", func(t *testing.T) string { return newFakeKMS(t, blockReply).srv.URL }, &http.Client{Timeout: 50 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := newClient(tc.endpoint(t))
			if tc.client != nil {
				client = awssdk.New(client.Options(), func(o *awssdk.Options) { o.HTTPClient = tc.client })
			}
			kek := newKEK(t, client, fakeARN)
			_, err := kek.Wrap(t.Context(), secretDEK, nil)
			checkFault(t, "Wrap(ctx)", err, kms.ErrUnavailable, kms.OpWrap)
		})
	}
}

// closedEndpoint returns the URL of a server on 127.0.0.1 that has been
// closed, so connections to it are refused.
func closedEndpoint(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}
