package vaulttransit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ciphertextPrefix starts every transit ciphertext, followed by the key
// version and a colon.
const ciphertextPrefix = "vault:v"

// aeadKeyTypes are the transit key types that accept associated_data in
// Vault 1.21.
var aeadKeyTypes = map[string]bool{
	"aes128-gcm96":      true,
	"aes256-gcm96":      true,
	"chacha20-poly1305": true,
}

// errKeyMissing reports that Vault returned no data for a key read, which
// is how it responds to a read of a key that does not exist.
var errKeyMissing = errors.New("vault returned HTTP 404 with no key data")

// errEmptyNotFound reports an HTTP 404 with an empty body, which the Vault
// client returns as a nil secret and a nil error.
var errEmptyNotFound = errors.New("vault returned HTTP 404 with an empty body")

// keyInfo holds the fields of a transit key that this package uses.
type keyInfo struct {
	keyType              string
	derived              bool
	latestVersion        uint32
	minDecryptionVersion uint32
	// minAvailableVersion is the oldest version whose key material Vault
	// still has (transit/keys/NAME/trim deletes the older ones). Zero when
	// the response does not include it.
	minAvailableVersion uint32
}

// readKey reads the key's configuration from transit/keys/<key>.
func (k *KEK) readKey(ctx context.Context) (keyInfo, error) {
	path := k.mount + "/keys/" + k.keyName
	secret, err := k.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return keyInfo{}, err
	}
	if secret == nil || secret.Data == nil {
		return keyInfo{}, fmt.Errorf("read %s: %w", path, errKeyMissing)
	}
	info, err := parseKeyInfo(secret.Data)
	if err != nil {
		return keyInfo{}, fmt.Errorf("%w: %w", errInvalidKeyInfo, err)
	}
	return info, nil
}

// errInvalidKeyInfo marks a key read whose fields fail validation.
var errInvalidKeyInfo = errors.New("invalid transit key description")

func parseKeyInfo(data map[string]any) (keyInfo, error) {
	var info keyInfo
	var err error
	info.keyType, _ = data["type"].(string)
	info.derived, _ = data["derived"].(bool)
	if info.latestVersion, err = uint32Field(data, "latest_version"); err != nil {
		return keyInfo{}, err
	}
	if info.latestVersion == 0 {
		return keyInfo{}, errors.New("latest_version is 0")
	}
	if info.minDecryptionVersion, err = uint32Field(data, "min_decryption_version"); err != nil {
		return keyInfo{}, err
	}
	if _, ok := data["min_available_version"]; ok {
		if info.minAvailableVersion, err = uint32Field(data, "min_available_version"); err != nil {
			return keyInfo{}, err
		}
	}
	return info, nil
}

// check returns why the key cannot serve as a KEK, or nil.
func (info keyInfo) check() error {
	if !aeadKeyTypes[info.keyType] {
		return fmt.Errorf("key type %q does not support associated data and cannot bind the encryption context "+
			"(use aes256-gcm96, aes128-gcm96 or chacha20-poly1305)", info.keyType)
	}
	if info.derived {
		return errors.New("key is derived (derived=true) and needs a derivation context on every request " +
			"(use a key created without derived or convergent_encryption)")
	}
	return nil
}

// uint32Field returns data[name] as a uint32. The Vault client decodes JSON
// numbers as json.Number.
func uint32Field(data map[string]any, name string) (uint32, error) {
	var n int64
	var err error
	switch v := data[name].(type) {
	case json.Number:
		n, err = v.Int64()
	case float64:
		n = int64(v)
		if float64(n) != v {
			err = errors.New("not an integer")
		}
	default:
		err = fmt.Errorf("type is %T, want a number", v)
	}
	if err == nil && (n < 0 || n > math.MaxUint32) {
		err = errors.New("out of range")
	}
	if err != nil {
		return 0, fmt.Errorf("field %s: %w", name, err)
	}
	return uint32(n), nil
}

// parseEncryptResponse returns the ciphertext and its key version from the
// data of a transit/encrypt response.
func parseEncryptResponse(data map[string]any) (string, uint32, error) {
	ct, _ := data["ciphertext"].(string)
	if ct == "" {
		return "", 0, errors.New("encrypt response has no ciphertext")
	}
	version, err := parseCiphertextVersion(ct)
	if err != nil {
		return "", 0, fmt.Errorf("encrypt response: %w", err)
	}
	if _, ok := data["key_version"]; ok {
		kv, err := uint32Field(data, "key_version")
		if err != nil {
			return "", 0, fmt.Errorf("encrypt response: %w", err)
		}
		if kv != version {
			return "", 0, fmt.Errorf("encrypt response has key_version %d but ciphertext version %d", kv, version)
		}
	}
	return ct, version, nil
}

// parseCiphertextVersion returns N from a ciphertext of the form
// vault:vN:BASE64. It never quotes the ciphertext in its errors.
func parseCiphertextVersion(ct string) (uint32, error) {
	rest, ok := strings.CutPrefix(ct, ciphertextPrefix)
	if !ok {
		return 0, fmt.Errorf("ciphertext does not start with %q", ciphertextPrefix)
	}
	digits, body, ok := strings.Cut(rest, ":")
	if !ok || body == "" {
		return 0, errors.New("ciphertext has no body after the version")
	}
	v, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || v == 0 || strconv.FormatUint(v, 10) != digits {
		return 0, errors.New("ciphertext version is not a positive decimal number")
	}
	return uint32(v), nil
}

// parseDecryptResponse returns the data key from the data of a
// transit/decrypt response, and clears it when it has the wrong length.
func parseDecryptResponse(data map[string]any) ([]byte, error) {
	encoded, _ := data["plaintext"].(string)
	dek, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		clear(dek)
		return nil, errors.New("decrypt response plaintext is not valid base64")
	}
	if len(dek) != dekSize {
		clear(dek)
		return nil, fmt.Errorf("decrypt response plaintext is %d bytes, want %d", len(dek), dekSize)
	}
	return dek, nil
}
