// Package gcpkms implements kms.KEK with a symmetric Google Cloud KMS crypto
// key (purpose ENCRYPT_DECRYPT), through the cloud.google.com/go/kms client.
//
// # Key names and versions
//
// A KEK is configured with the crypto key's resource name,
// projects/P/locations/L/keyRings/R/cryptoKeys/K, never with a crypto key
// version: Wrap encrypts under whatever version is primary, and Cloud KMS
// reads the version that Decrypt needs from the ciphertext itself. Wrap
// reports the primary version's number as kms.Wrapped.Version, so rotating
// the key in Cloud KMS shows up in new records without configuration
// changes, and data keys wrapped under older versions keep unwrapping while
// those versions are enabled.
//
// # IAM permissions
//
// The identity the client runs as needs, on the crypto key:
//
//   - cloudkms.cryptoKeyVersions.useToEncrypt for Wrap
//   - cloudkms.cryptoKeyVersions.useToDecrypt for Unwrap
//   - cloudkms.cryptoKeys.get for PrimaryVersion, which reads the primary
//     version without wrapping
//
// The predefined role roles/cloudkms.cryptoKeyEncrypterDecrypter grants the
// first two. If you call PrimaryVersion, grant cloudkms.cryptoKeys.get too,
// for example through roles/cloudkms.viewer or a custom role.
//
// # Integrity
//
// Every Encrypt and Decrypt request carries CRC32C (Castagnoli) checksums of
// its data and additional authenticated data. Wrap requires Cloud KMS to
// confirm that it verified both, and both operations check the returned data
// against the checksum in the response, as the kmspb field documentation
// recommends. A failed check, or Cloud KMS reporting that a request failed its
// checksum, is returned as kms.ErrInvalidResponse, which is retryable
// because such damage happens in transit.
//
// # Encryption context
//
// The kms.EncryptionContext is sent as additional authenticated data in its
// canonical encoding (kms.EncryptionContext.Bytes). Cloud KMS does not
// distinguish a wrong context from an altered ciphertext, so both are
// reported as kms.ErrContextMismatch.
//
// # Key URIs
//
// Importing the package registers the scheme "gcp-kms" with kms.Open, in the
// form Tink uses: gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K.
// The client that kms.Open creates uses Application Default Credentials,
// which may read GOOGLE_APPLICATION_CREDENTIALS, the gcloud configuration or
// the GCE metadata server. Use OpenURI with ClientOptions, or New with a
// client you built, to choose credentials or an endpoint. The KEK that
// kms.Open returns is a *KEK that owns its client: close it with Close. A
// URI with user information, a query or a fragment is rejected, and errors
// about a rejected URI never quote it, because it may carry a token.
//
// # Retries
//
// The Cloud KMS client retries Encrypt, Decrypt and GetCryptoKey on
// Unavailable and DeadlineExceeded by itself (client v1.37.0 defaults:
// back-off from 100 ms, 60 s timeout per call unless the context has a
// deadline). Errors that still reach this package are classified into the
// kms sentinel errors, and kms.IsRetryable reports whether a retry in the
// caller can help. A call whose context ended fails with
// kms.ErrUnavailable, and errors.Is finds the context's error in it.
package gcpkms
