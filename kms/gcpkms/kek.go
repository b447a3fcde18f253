package gcpkms

import (
	"context"
	"errors"
	"fmt"

	kmsapi "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/kenvelope/kenvelope/kms"
)

const (
	// dekSize is the size of a kenvelope data key, an AES-256 key.
	dekSize = 32

	// maxAADLen is the Cloud KMS limit on additional authenticated data
	// for SOFTWARE keys. HSM keys allow 8 KiB for plaintext and AAD
	// together, which Cloud KMS enforces itself.
	maxAADLen = 64 << 10
)

// KEK is a kms.KEK and kms.Versioned backed by a symmetric Cloud KMS crypto
// key. It is safe for concurrent use.
type KEK struct {
	name    string
	keyName string
	client  *kmsapi.KeyManagementClient
	owned   bool // the KEK created client, so Close closes it
}

var _ kms.Versioned = (*KEK)(nil)

// New returns a KEK with the logical name that wraps data keys under the
// crypto key keyName, projects/P/locations/L/keyRings/R/cryptoKeys/K, through
// client. The caller keeps ownership of client and closes it after the last
// call. New makes no call to Cloud KMS and does not use ctx, so a wrong key
// or missing permission shows on the first Wrap. Configuration errors,
// including a keyName that names a crypto key version, wrap
// kms.ErrInvalidConfig.
func New(ctx context.Context, client *kmsapi.KeyManagementClient, name, keyName string, opts ...Opt) (*KEK, error) {
	s := newSettings(opts)
	if len(s.clientOptions) > 0 {
		return nil, fmt.Errorf("gcpkms: KEK %q: ClientOptions apply only to OpenURI, which creates the client: %w", name, kms.ErrInvalidConfig)
	}
	if client == nil {
		return nil, fmt.Errorf("gcpkms: KEK %q: client is nil: %w", name, kms.ErrInvalidConfig)
	}
	return newKEK(client, name, keyName)
}

// newKEK checks name and keyName and returns a KEK that does not own client.
func newKEK(client *kmsapi.KeyManagementClient, name, keyName string) (*KEK, error) {
	if name == "" {
		return nil, fmt.Errorf("gcpkms: KEK name is empty: %w", kms.ErrInvalidConfig)
	}
	if err := checkKeyName(keyName); err != nil {
		return nil, fmt.Errorf("gcpkms: KEK %q: %w", name, err)
	}
	return &KEK{name: name, keyName: keyName, client: client}, nil
}

// Name returns the logical KEK name.
func (k *KEK) Name() string { return k.name }

// KeyName returns the Cloud KMS crypto key name that the KEK uses.
func (k *KEK) KeyName() string { return k.keyName }

// Close closes the Cloud KMS client if OpenURI or kms.Open created it, and
// does nothing for a KEK built by New, whose caller owns the client.
func (k *KEK) Close() error {
	if !k.owned {
		return nil
	}
	return k.client.Close()
}

// Wrap encrypts the 32-byte data key dek with Cloud KMS Encrypt under the
// key's primary version, with ec.Bytes() as additional authenticated data,
// and returns the ciphertext with the number of that version.
func (k *KEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if len(dek) != dekSize {
		return kms.Wrapped{}, k.fail(kms.OpWrap, 0, kms.ErrInvalidConfig, fmt.Errorf("data key is %d bytes, want %d", len(dek), dekSize))
	}
	aad := ec.Bytes()
	if len(aad) > maxAADLen {
		return kms.Wrapped{}, k.fail(kms.OpWrap, 0, kms.ErrInvalidConfig, contextTooLong(len(aad)))
	}

	resp, err := k.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name:                              k.keyName,
		Plaintext:                         dek,
		PlaintextCrc32C:                   checksum(dek),
		AdditionalAuthenticatedData:       aad,
		AdditionalAuthenticatedDataCrc32C: checksum(aad),
	})
	if err != nil {
		return kms.Wrapped{}, k.failCall(ctx, kms.OpWrap, 0, err)
	}

	version, err := checkEncryptResponse(k.keyName, resp)
	if err != nil {
		return kms.Wrapped{}, k.fail(kms.OpWrap, 0, kms.ErrInvalidResponse, err)
	}
	return kms.Wrapped{Version: version, Ciphertext: resp.GetCiphertext()}, nil
}

// Unwrap decrypts w with Cloud KMS Decrypt, with ec.Bytes() as additional
// authenticated data, and returns the 32-byte data key. Cloud KMS finds the
// version in the ciphertext, so w.Version is only reported in errors.
func (k *KEK) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	if len(w.Ciphertext) == 0 {
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrContextMismatch, errors.New("wrapped key is empty: it was altered or lost"))
	}
	aad := ec.Bytes()
	if len(aad) > maxAADLen {
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrInvalidConfig, contextTooLong(len(aad)))
	}

	resp, err := k.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name:                              k.keyName,
		Ciphertext:                        w.Ciphertext,
		CiphertextCrc32C:                  checksum(w.Ciphertext),
		AdditionalAuthenticatedData:       aad,
		AdditionalAuthenticatedDataCrc32C: checksum(aad),
	})
	if err != nil {
		return nil, k.failCall(ctx, kms.OpUnwrap, w.Version, err)
	}

	dek := resp.GetPlaintext()
	if err := checkDecryptResponse(resp); err != nil {
		clear(dek)
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrInvalidResponse, err)
	}
	if len(dek) != dekSize {
		clear(dek)
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrInvalidResponse, fmt.Errorf("data key from Decrypt is %d bytes, want %d", len(dek), dekSize))
	}
	return dek, nil
}

// PrimaryVersion reads the crypto key with GetCryptoKey and returns the
// number of its primary version, the one Wrap uses now. It reports the
// number whatever the version's state: a disabled or destroyed primary
// shows up as an error from Wrap.
func (k *KEK) PrimaryVersion(ctx context.Context) (uint32, error) {
	key, err := k.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: k.keyName})
	if err != nil {
		return 0, k.failCall(ctx, kms.OpVersion, 0, err)
	}
	primary := key.GetPrimary()
	if primary == nil {
		return 0, k.fail(kms.OpVersion, 0, kms.ErrInvalidConfig,
			fmt.Errorf("crypto key %s has no primary version: its purpose is %s, want ENCRYPT_DECRYPT", k.keyName, key.GetPurpose()))
	}
	version, err := versionNumber(k.keyName, primary.GetName())
	if err != nil {
		return 0, k.fail(kms.OpVersion, 0, kms.ErrInvalidResponse, err)
	}
	return version, nil
}

// fail returns a *kms.Error for the KEK.
func (k *KEK) fail(op kms.Op, version uint32, kind, cause error) *kms.Error {
	return &kms.Error{Op: op, KEK: k.name, Version: version, Kind: kind, Cause: cause}
}

// failCall returns a *kms.Error for an error from the Cloud KMS client. When
// ctx has ended, the kind is kms.ErrUnavailable and the cause wraps
// ctx.Err(), so errors.Is finds context.Canceled or
// context.DeadlineExceeded whatever status the client reported.
func (k *KEK) failCall(ctx context.Context, op kms.Op, version uint32, err error) *kms.Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return k.fail(op, version, kms.ErrUnavailable, err)
	}
	kind, cause := classify(op, err)
	return k.fail(op, version, kind, cause)
}

func contextTooLong(n int) error {
	return fmt.Errorf("encryption context encodes to %d bytes, Cloud KMS accepts at most %d", n, maxAADLen)
}
