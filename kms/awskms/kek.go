package awskms

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kenvelope/kenvelope/kms"
)

const (
	// dekSize is the size of a kenvelope data key, an AES-256 key.
	dekSize = 32

	// minCiphertextLen is a lower bound on the ciphertext of a dekSize data
	// key. AWS KMS encrypts with AES-256-GCM (AWS KMS developer guide,
	// "Cryptography essentials"), so the blob contains at least the encrypted
	// key, a 16-byte tag and a nonce, 12 bytes in GCM's usual form. A cleartext
	// header that names the backing key makes the real blob longer, but AWS
	// does not publish its layout, so only this bound is checked.
	minCiphertextLen = dekSize + 16 + 12

	// maxCiphertextLen is the largest CiphertextBlob that Decrypt accepts.
	maxCiphertextLen = 6144
)

// opResolve is the operation recorded when New cannot resolve an alias.
const opResolve kms.Op = "resolve alias"

// API is the part of *kms.Client (github.com/aws/aws-sdk-go-v2/service/kms)
// that a KEK calls.
type API interface {
	Encrypt(ctx context.Context, in *awssdk.EncryptInput, optFns ...func(*awssdk.Options)) (*awssdk.EncryptOutput, error)
	Decrypt(ctx context.Context, in *awssdk.DecryptInput, optFns ...func(*awssdk.Options)) (*awssdk.DecryptOutput, error)
	DescribeKey(ctx context.Context, in *awssdk.DescribeKeyInput, optFns ...func(*awssdk.Options)) (*awssdk.DescribeKeyOutput, error)
}

// KEK is a kms.KEK backed by a symmetric AWS KMS key. It is safe for
// concurrent use.
type KEK struct {
	name        string
	client      API
	keyID       string // KeyId sent on every call: a key id, or a key ARN
	keyARN      string // the key ARN, empty when configured with a bare key id
	alias       string // the alias that New resolved, empty without one
	grantTokens []string
}

var _ kms.KEK = (*KEK)(nil)

// New returns a KEK with the logical name that wraps data keys under keyID,
// which is a key id, key ARN, alias name (alias/NAME) or alias ARN. An alias
// is resolved to its key ARN here, with one DescribeKey call. Configuration
// errors wrap kms.ErrInvalidConfig. A failed DescribeKey returns a
// *kms.Error with Op "resolve alias".
func New(ctx context.Context, client API, name, keyID string, opts ...Opt) (*KEK, error) {
	s := newSettings(opts)
	if err := s.validateForNew(); err != nil {
		return nil, fmt.Errorf("awskms: KEK %q: %w: %w", name, err, kms.ErrInvalidConfig)
	}
	if name == "" {
		return nil, fmt.Errorf("awskms: KEK name is empty: %w", kms.ErrInvalidConfig)
	}
	if client == nil {
		return nil, fmt.Errorf("awskms: KEK %q: client is nil: %w", name, kms.ErrInvalidConfig)
	}
	ref, err := parseKeyID(keyID)
	if err != nil {
		return nil, fmt.Errorf("awskms: KEK %q: %w: %w", name, err, kms.ErrInvalidConfig)
	}

	k := &KEK{name: name, client: client, keyID: ref.id, grantTokens: s.grantTokens}
	switch {
	case ref.alias:
		if err := k.resolveAlias(ctx, ref.id); err != nil {
			return nil, err
		}
	case ref.arn:
		k.keyARN = ref.id
	}
	return k, nil
}

// resolveAlias looks up the key ARN that alias names and pins the KEK to it.
func (k *KEK) resolveAlias(ctx context.Context, alias string) error {
	out, err := k.client.DescribeKey(ctx, &awssdk.DescribeKeyInput{
		KeyId:       aws.String(alias),
		GrantTokens: k.grantTokens,
	})
	if err != nil {
		return k.classify(ctx, opResolve, err)
	}

	md := out.KeyMetadata
	if md == nil || md.Arn == nil {
		return k.fail(opResolve, kms.ErrInvalidResponse, fmt.Errorf("DescribeKey of %s returned no key ARN", alias))
	}
	ref, err := parseARN(*md.Arn)
	if err != nil || ref.alias {
		return k.fail(opResolve, kms.ErrInvalidResponse, fmt.Errorf("DescribeKey of %s returned %q, which is not a key ARN", alias, *md.Arn))
	}
	if md.KeySpec != "" && md.KeySpec != types.KeySpecSymmetricDefault {
		return k.fail(opResolve, kms.ErrInvalidConfig, fmt.Errorf("alias %s names a %s key, want %s", alias, md.KeySpec, types.KeySpecSymmetricDefault))
	}

	k.keyID = *md.Arn
	k.keyARN = *md.Arn
	k.alias = alias
	return nil
}

// Name returns the logical KEK name given to New.
func (k *KEK) Name() string { return k.name }

// KeyARN returns the key ARN that the KEK uses: the configured ARN, or the
// ARN an alias resolved to. It is empty when the KEK was built with a bare
// key id.
func (k *KEK) KeyARN() string { return k.keyARN }

// Wrap encrypts the 32-byte data key dek with AWS KMS Encrypt, with ec as
// the encryption context. The result has Version 0, because AWS KMS rotates
// key material behind one key id. A dek of another length fails with
// kms.ErrInvalidConfig, without a call.
func (k *KEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if len(dek) != dekSize {
		return kms.Wrapped{}, k.fail(kms.OpWrap, kms.ErrInvalidConfig, fmt.Errorf("data key is %d bytes, want %d", len(dek), dekSize))
	}

	out, err := k.client.Encrypt(ctx, &awssdk.EncryptInput{
		KeyId:             aws.String(k.keyID),
		Plaintext:         dek,
		EncryptionContext: contextMap(ec),
		GrantTokens:       k.grantTokens,
	})
	if err != nil {
		return kms.Wrapped{}, k.classify(ctx, kms.OpWrap, err)
	}

	if n := len(out.CiphertextBlob); n < minCiphertextLen || n > maxCiphertextLen {
		return kms.Wrapped{}, k.fail(kms.OpWrap, kms.ErrInvalidResponse,
			fmt.Errorf("ciphertext from Encrypt is %d bytes, want %d to %d", n, minCiphertextLen, maxCiphertextLen))
	}
	if err := k.checkKeyID("Encrypt", out.KeyId); err != nil {
		return kms.Wrapped{}, k.fail(kms.OpWrap, kms.ErrInvalidResponse, err)
	}
	return kms.Wrapped{Ciphertext: out.CiphertextBlob}, nil
}

// Unwrap decrypts w with AWS KMS Decrypt, pinned to the KEK's key, with ec
// as the encryption context, and returns the 32-byte data key. Without a
// call, a Version other than 0 fails with kms.ErrKeyNotFound, and a
// ciphertext too short or too long to come from Encrypt fails with
// kms.ErrContextMismatch.
func (k *KEK) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	if w.Version != 0 {
		return nil, &kms.Error{Op: kms.OpUnwrap, KEK: k.name, Version: w.Version, Kind: kms.ErrKeyNotFound,
			Cause: errors.New("AWS KMS keys have no versions, so wrapped keys carry version 0")}
	}
	if n := len(w.Ciphertext); n < minCiphertextLen || n > maxCiphertextLen {
		return nil, k.fail(kms.OpUnwrap, kms.ErrContextMismatch,
			fmt.Errorf("wrapped key is %d bytes, want %d to %d bytes: it was altered or is not an AWS KMS ciphertext", n, minCiphertextLen, maxCiphertextLen))
	}

	out, err := k.client.Decrypt(ctx, &awssdk.DecryptInput{
		KeyId:             aws.String(k.keyID),
		CiphertextBlob:    w.Ciphertext,
		EncryptionContext: contextMap(ec),
		GrantTokens:       k.grantTokens,
	})
	if err != nil {
		return nil, k.classify(ctx, kms.OpUnwrap, err)
	}

	if err := k.checkKeyID("Decrypt", out.KeyId); err != nil {
		clear(out.Plaintext)
		return nil, k.fail(kms.OpUnwrap, kms.ErrInvalidResponse, err)
	}
	if len(out.Plaintext) != dekSize {
		clear(out.Plaintext)
		return nil, k.fail(kms.OpUnwrap, kms.ErrInvalidResponse,
			fmt.Errorf("data key from Decrypt is %d bytes, want %d", len(out.Plaintext), dekSize))
	}
	return out.Plaintext, nil
}

// checkKeyID checks that the KeyId an operation returned, always a key ARN,
// names the KEK's key.
func (k *KEK) checkKeyID(op string, got *string) error {
	if got == nil {
		return fmt.Errorf("%s returned no KeyId", op)
	}
	ok := *got == k.keyARN
	if k.keyARN == "" {
		ok = strings.HasPrefix(*got, "arn:") && strings.HasSuffix(*got, ":key/"+k.keyID)
	}
	if !ok {
		return fmt.Errorf("%s used key %s, want %s", op, *got, k.keyID)
	}
	return nil
}

// fail returns a *kms.Error for the KEK.
func (k *KEK) fail(op kms.Op, kind, cause error) error {
	return &kms.Error{Op: op, KEK: k.name, Kind: kind, Cause: cause}
}

// contextMap returns ec as the SDK's map type, nil when empty.
func contextMap(ec kms.EncryptionContext) map[string]string {
	if len(ec) == 0 {
		return nil
	}
	return ec
}
