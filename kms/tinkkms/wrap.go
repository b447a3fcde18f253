package tinkkms

import (
	"context"
	"errors"
	"fmt"

	"github.com/kenvelope/kenvelope/kms"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
)

// Wrap encrypts dek, which must be 32 bytes, with the primary key and
// associated data made of a fixed domain string and ec.Bytes(). The
// returned Version is the primary key id, or zero for a KEK built by New
// or FromKeyURI.
func (k *KEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	s := k.state.Load()
	if len(dek) != dekSize {
		err := fmt.Errorf("data key is %d bytes, want %d", len(dek), dekSize)
		return kms.Wrapped{}, k.opError(kms.OpWrap, s.primary, kms.ErrInvalidConfig, err)
	}
	if err := ctx.Err(); err != nil {
		return kms.Wrapped{}, k.opError(kms.OpWrap, s.primary, kms.ErrUnavailable, err)
	}

	ct, err := s.encrypt(ctx, dek, associatedData(ec))
	if err != nil {
		// NOTE: Tink's AEAD errors carry no type, so every Encrypt failure
		// is taken as transient. A local keyset is not expected to fail
		// Encrypt, so the failures seen here come mostly from remote AEADs.
		err = fmt.Errorf("tink encrypt failed: %w", withContextError(ctx, err))
		return kms.Wrapped{}, k.opError(kms.OpWrap, s.primary, kms.ErrUnavailable, err)
	}
	if len(ct) == 0 {
		return kms.Wrapped{}, k.opError(kms.OpWrap, s.primary, kms.ErrInvalidResponse, errors.New("tink returned an empty ciphertext"))
	}
	return kms.Wrapped{Version: s.primary, Ciphertext: ct}, nil
}

// Unwrap decrypts w.Ciphertext with the associated data that Wrap used for
// ec. Tink cannot tell a wrong ec from an altered ciphertext, so both
// return kms.ErrContextMismatch. For a KEK built from a keyset, a failure
// is reported as kms.ErrKeyDisabled, kms.ErrKeyDestroyed or
// kms.ErrKeyNotFound when the key that w.Version names has that state in
// the keyset. A KEK built by New or FromKeyURI ignores w.Version.
func (k *KEK) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, k.opError(kms.OpUnwrap, w.Version, kms.ErrUnavailable, err)
	}
	s := k.state.Load()

	dek, err := s.decrypt(ctx, w.Ciphertext, associatedData(ec))
	if err != nil {
		kind, cause := s.classifyDecrypt(ctx, err, w.Version)
		return nil, k.opError(kms.OpUnwrap, w.Version, kind, cause)
	}
	if len(dek) != dekSize {
		clear(dek)
		err := fmt.Errorf("unwrapped key is %d bytes, want %d", len(dek), dekSize)
		return nil, k.opError(kms.OpUnwrap, w.Version, kms.ErrInvalidResponse, err)
	}
	return dek, nil
}

// associatedData returns adDomain followed by ec's canonical encoding.
func associatedData(ec kms.EncryptionContext) []byte {
	return append([]byte(adDomain), ec.Bytes()...)
}

func (s *state) encrypt(ctx context.Context, pt, ad []byte) ([]byte, error) {
	if s.ctxAEAD != nil {
		return s.ctxAEAD.EncryptWithContext(ctx, pt, ad)
	}
	return s.aead.Encrypt(pt, ad)
}

func (s *state) decrypt(ctx context.Context, ct, ad []byte) ([]byte, error) {
	if s.ctxAEAD != nil {
		return s.ctxAEAD.DecryptWithContext(ctx, ct, ad)
	}
	return s.aead.Decrypt(ct, ad)
}

// classifyDecrypt returns the kind and cause of a Decrypt failure. The
// key's state in the keyset comes first, because a disabled, destroyed or
// removed key is not in the primitive set and so also fails to decrypt.
func (s *state) classifyDecrypt(ctx context.Context, err error, version uint32) (kind, cause error) {
	if isContextError(ctx, err) {
		return kms.ErrUnavailable, fmt.Errorf("tink decrypt failed: %w", withContextError(ctx, err))
	}
	if s.status != nil && version != 0 {
		switch st, ok := s.status[version]; {
		case !ok:
			return kms.ErrKeyNotFound, fmt.Errorf("keyset has no key with id %d: %w", version, err)
		case st == tinkpb.KeyStatusType_DISABLED:
			return kms.ErrKeyDisabled, fmt.Errorf("key %d is disabled in the keyset: %w", version, err)
		case st == tinkpb.KeyStatusType_DESTROYED:
			return kms.ErrKeyDestroyed, fmt.Errorf("key %d is destroyed in the keyset: %w", version, err)
		}
	}
	// NOTE: a remote AEAD (FromKeyURI) whose transport fails without a
	// context error lands here too, and is reported as a permanent
	// mismatch, because Tink's errors carry no type to tell them apart.
	return kms.ErrContextMismatch, fmt.Errorf("the encryption context did not match or the wrapped key was altered (Tink cannot tell them apart): %w", err)
}

func isContextError(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// withContextError adds ctx.Err() to err when ctx is done and err does not
// already wrap it, because Tink flattens the errors it wraps into text.
func withContextError(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w: %v", cerr, err)
}

func (k *KEK) opError(op kms.Op, version uint32, kind, cause error) error {
	return &kms.Error{Op: op, KEK: k.name, Version: version, Kind: kind, Cause: cause}
}

// configError wraps cause as a constructor error of kind
// kms.ErrInvalidConfig.
func configError(name string, cause error) error {
	return fmt.Errorf("tinkkms: KEK %q: %w: %w", name, kms.ErrInvalidConfig, cause)
}
