// Package tinkkms is a kms.KEK backed by a Tink AEAD
// (github.com/tink-crypto/tink-go/v2): a keyset held by the process, or a
// remote KMS key reached through one of Tink's KMS clients.
//
// # Building a KEK
//
// New wraps any tink.AEAD. FromKeyset takes a keyset.Handle and
// ReadEncryptedKeyset reads an encrypted keyset file, decrypting it with a
// KEK AEAD, usually a KMS key. FromKeyURI looks up the AEAD of a key URI
// in Tink's KMS client registry (registry.GetKMSClient).
//
// tinkkms never reads a cleartext keyset: ReadEncryptedKeyset rejects one,
// valid or not, before sending anything to the KEK AEAD, because a keyset
// stored in cleartext leaves its keys on disk. Tests that need one use Tink's
// insecurecleartextkeyset package in _test.go files.
//
// # Wrapping
//
// Wrap calls Encrypt with the data key as plaintext and, as associated
// data, a fixed domain string followed by EncryptionContext.Bytes(). Unwrap
// calls Decrypt with the same associated data. Tink reports a wrong
// context and an altered ciphertext as the same failure, so both surface
// as kms.ErrContextMismatch.
//
// # Versions
//
// For a KEK built from a keyset, Wrapped.Version is the Tink key id of the
// primary key that wrapped the data key. A ciphertext of a key with the
// TINK output prefix also starts with 0x01 and that id, and Tink picks the
// decrypting key by this prefix, so Unwrap does not need Version to
// decrypt. It uses Version to explain a failure: kms.ErrKeyDisabled,
// kms.ErrKeyDestroyed or kms.ErrKeyNotFound when that key is disabled,
// destroyed or missing from the keyset.
//
// Tink key ids are random 32-bit numbers, not a sequence, so a newer key
// can have a smaller id and kms.ErrVersionTooOld never applies: retire an
// old key by disabling or deleting it in the keyset instead. Rotate with
// keyset.Manager (add a key, make it primary) and pass the new handle to
// SetKeyset. PrimaryVersion then returns the new id, so a keyring
// notices the rotation, and keys wrapped under the old primary still
// unwrap while it stays enabled in the keyset. Deleting a key from the
// keyset makes every data key it wrapped unrecoverable, once no older copy
// of the keyset remains.
//
// A KEK built by New or FromKeyURI cannot see key ids: its wrapped keys
// carry version zero and PrimaryVersion returns zero, as kms.Wrapped
// documents for backends without versions.
//
// # Key URIs
//
// The package registers the scheme "tink-keyset" with kms.Register, for an
// encrypted keyset file (see Scheme). It does not register Tink's own key
// URI schemes such as "aws-kms" and "gcp-kms", because kenvelope's native
// backends own them; call FromKeyURI for those.
package tinkkms
