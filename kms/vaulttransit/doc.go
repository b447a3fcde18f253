// Package vaulttransit implements kms.KEK with a key of the HashiCorp Vault
// transit secrets engine, through the github.com/hashicorp/vault/api client.
//
// # Vault policy
//
// The token needs exactly these capabilities, shown here for a key named
// phi-kek on the default mount:
//
//	path "transit/encrypt/phi-kek" { capabilities = ["update"] }
//	path "transit/decrypt/phi-kek" { capabilities = ["update"] }
//	path "transit/keys/phi-kek"    { capabilities = ["read"] }
//
// The read capability lets New check the key's type and derivation setting,
// lets PrimaryVersion read latest_version, and lets Unwrap read
// min_decryption_version when Vault rejects a record as too old. Rotate and
// SetMinDecryptionVersion are for operators and tests and need more:
// update on transit/keys/phi-kek/rotate and transit/keys/phi-kek/config.
//
// Do not grant create on transit/encrypt/<key>. Vault treats an encrypt
// request for a missing key as a create request and, with that capability,
// makes a new key under the old name (an upsert). After a deletion meant as
// crypto-shredding, that would silently start a new key. With the policy
// above, Wrap on a deleted key fails with kms.ErrPermission instead. Setting
// disable_upsert on transit/config/keys turns upserts off for the whole
// mount.
//
// # Keys
//
// The key must be of type aes256-gcm96, aes128-gcm96 or chacha20-poly1305,
// because in Vault 1.21 only these take associated_data, which is how Wrap
// binds the kms.EncryptionContext. New returns kms.ErrInvalidConfig for any
// other type. Vault rejects associated data for those types (and ed25519
// cannot encrypt at all), and a key that cannot bind a context would leave
// Unwrap unable to detect a moved record. The managed_key type also takes
// associated data, but whether the external key behind it authenticates
// that data is not verified here, so New rejects it too.
//
// New also rejects derived keys (derived=true, which includes every
// convergent key). A derived key needs a non-empty derivation context on
// every request, and an empty kms.EncryptionContext is valid here. The
// associated data already binds the context, so key derivation would add
// no protection.
//
// # Wrapped keys
//
// Wrapped.Ciphertext holds Vault's whole ciphertext string, such as
// "vault:v3:AbC...", so that an operator can pass a stored EDEK straight to
// transit/decrypt. Wrapped.Version is the N of its "vault:vN:" prefix, and
// Unwrap rejects a Wrapped whose Version differs from that prefix. Vault
// returns the data key as base64 and Unwrap requires exactly 32 bytes.
//
// # Errors
//
// Every error is a *kms.Error, except the one Wrap returns for a data key
// that is not 32 bytes, which is a programming error. Unwrap reports:
//   - kms.ErrContextMismatch when the context differs from the one used at
//     Wrap, or the wrapped key was altered (Vault's "message authentication
//     failed" or "invalid ciphertext" errors).
//   - kms.ErrVersionTooOld when the record's version is below the key's
//     min_decryption_version. Error.MinVersion is that minimum, and zero if
//     reading it failed too.
//   - kms.ErrKeyDestroyed when the key was deleted (HTTP 404 or "encryption
//     key not found"), or when the record's version is below the key's
//     min_available_version, because transit/keys/NAME/trim deleted that
//     version's key material. Neither can be undone without a backup, so
//     the data keys wrapped under them are gone.
//   - kms.ErrKeyNotFound when the record names a version newer than the
//     key's latest, which happens when a key was deleted and a new one made
//     under the same name.
//
// For every call, HTTP 403 is kms.ErrPermission, 429 is kms.ErrThrottled,
// and 412, 5xx, connection errors and timeouts are kms.ErrUnavailable. Any
// other 4xx is kms.ErrInvalidConfig, which is permanent, because the
// remaining causes in the transit engine are requests that do not fit the
// key's settings. A token that the Vault client refuses to send, because it
// contains a non-printable character, is kms.ErrInvalidConfig too.
//
// The api.Client retries 412, 429, 5xx and connection errors itself (twice
// by default, see api.Config.MaxRetries) before it returns an error to this
// package. Set MaxRetries to zero when a retrying kms middleware wraps the
// KEK.
//
// # Key URIs
//
// Importing this package registers the scheme "hcvault" with kms.Open, in
// the form Tink uses:
//
//	hcvault://vault.example.com:8200/transit/keys/phi-kek
//
// The path is the mount path, then /keys/, then the key name. The client
// speaks HTTPS unless the URI ends in ?tls=false, which is accepted only for
// a literal loopback IP address such as 127.0.0.1 or [::1], for a local
// Vault agent. The name localhost is rejected there, because /etc/hosts or
// DNS decides where it points. A tls=false client uses no proxy, so that
// VAULT_PROXY_ADDR, VAULT_HTTP_PROXY or HTTP_PROXY cannot carry the token
// in plain HTTP to another host. An HTTPS client honours those variables,
// and the proxy then sees only the TLS connection.
//
// The rest of the client comes from api.DefaultConfig and api.NewClient, so
// the token is read from VAULT_TOKEN and TLS settings from VAULT_CACERT and
// the other VAULT_ variables that the Vault client documents. VAULT_ADDR and
// VAULT_AGENT_ADDR are ignored, because the URI gives the address. Errors
// about a rejected URI never quote it, because it may carry a token by
// mistake.
package vaulttransit
