package vaulttransit

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/vault/api"
	"github.com/kenvelope/kenvelope/kms"
)

// Operations of this package that the kms.Op constants do not name.
const (
	opOpen    kms.Op = "open key"
	opRotate  kms.Op = "rotate key"
	opSetMinD kms.Op = "set min_decryption_version"
)

// maxMessageLen caps each Vault error message quoted in a cause.
const maxMessageLen = 300

// msgUnusableToken is a substring of the error that the Vault client
// (github.com/hashicorp/vault/api v1.23.0) returns without sending the
// request when the token contains a non-printable character.
const msgUnusableToken = "token contains non-printable characters"

// Substrings of the transit engine's error messages in Vault 1.21
// (builtin/logical/transit and sdk/helper/keysutil).
const (
	msgKeyNotFound = "key not found"                 // "encryption key not found" on encrypt and decrypt
	msgAuthFailed  = "message authentication failed" // Go's AES-GCM and ChaCha20-Poly1305
	msgTooOld      = "disallowed by policy (too old)"
	msgTooNew      = "version is too new"
	msgInvalidCT   = "invalid ciphertext"
)

func (k *KEK) fail(op kms.Op, version uint32, kind, cause error) *kms.Error {
	return &kms.Error{Op: op, KEK: k.name, Version: version, Kind: kind, Cause: cause}
}

// classify turns an error from the Vault client into a *kms.Error. missing
// is the kind for a key that does not exist: kms.ErrKeyNotFound while
// opening the KEK, and kms.ErrKeyDestroyed once it has been opened.
func (k *KEK) classify(op kms.Op, version uint32, err, missing error) *kms.Error {
	var respErr *api.ResponseError
	if errors.As(err, &respErr) {
		return k.fail(op, version, responseKind(respErr, missing), &vaultError{resp: respErr})
	}
	return k.fail(op, version, localKind(err, missing), err)
}

// localKind classifies an error that carries no HTTP status.
func localKind(err, missing error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errKeyMissing):
		return missing
	case errors.Is(err, errInvalidKeyInfo), errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		return kms.ErrInvalidResponse
	case strings.Contains(err.Error(), msgUnusableToken):
		// No retry can fix the token, so the kind must be permanent.
		return kms.ErrInvalidConfig
	default:
		// Connection errors, timeouts and cancelled contexts.
		return kms.ErrUnavailable
	}
}

// responseKind classifies an HTTP error response from Vault.
func responseKind(e *api.ResponseError, missing error) error {
	switch code := e.StatusCode; {
	case code == http.StatusForbidden:
		return kms.ErrPermission
	case code == http.StatusTooManyRequests:
		return kms.ErrThrottled
	case code == http.StatusPreconditionFailed || code >= 500:
		// 412 means a performance standby has not caught up yet.
		return kms.ErrUnavailable
	case code == http.StatusNotFound:
		return missing
	}

	msg := strings.Join(e.Errors, "\n")
	switch {
	case strings.Contains(msg, msgKeyNotFound):
		return missing
	case strings.Contains(msg, msgAuthFailed):
		return kms.ErrContextMismatch
	case strings.Contains(msg, msgTooOld):
		return kms.ErrVersionTooOld
	case strings.Contains(msg, msgTooNew):
		// The record names a version the key never had, which happens
		// when the key was deleted and a new one made under the same name.
		return kms.ErrKeyNotFound
	case strings.Contains(msg, msgInvalidCT):
		return kms.ErrContextMismatch
	default:
		return kms.ErrInvalidConfig
	}
}

// vaultError is a one-line form of *api.ResponseError, whose own message
// spans several lines. It unwraps to the *api.ResponseError.
type vaultError struct {
	resp *api.ResponseError
}

func (e *vaultError) Error() string {
	where := e.resp.HTTPMethod
	if u, err := url.Parse(e.resp.URL); err == nil {
		where += " " + u.Path
	}
	if e.resp.RawError {
		return fmt.Sprintf("vault returned HTTP %d to %s with a body that is not JSON", e.resp.StatusCode, where)
	}
	if len(e.resp.Errors) == 0 {
		return fmt.Sprintf("vault returned HTTP %d to %s", e.resp.StatusCode, where)
	}
	msgs := make([]string, len(e.resp.Errors))
	for i, m := range e.resp.Errors {
		msgs[i] = oneLine(m)
	}
	return fmt.Sprintf("vault returned HTTP %d to %s: %s", e.resp.StatusCode, where, strings.Join(msgs, "; "))
}

func (e *vaultError) Unwrap() error { return e.resp }

// oneLine joins the lines of s with spaces and cuts it to at most
// maxMessageLen bytes, at a rune boundary.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessageLen {
		return s
	}
	n := maxMessageLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
