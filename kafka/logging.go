package kafka

import (
	"context"
	"errors"
	"log/slog"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// reason names the kind of a decryption failure in a few words, for the
// dead-letter header. It holds no data from the record.
func reason(err error) string {
	switch {
	case errors.Is(err, envelope.ErrBindingMismatch):
		return "binding-mismatch"
	case errors.Is(err, envelope.ErrAuth):
		return "authentication-failed"
	case errors.Is(err, envelope.ErrInvalidDescriptor):
		return "invalid-descriptor"
	case errors.Is(err, ErrNotEncrypted):
		return "not-encrypted"
	case errors.Is(err, ErrDuplicateHeader):
		return "duplicate-header"
	case errors.Is(err, keyring.ErrShredded):
		return "key-shredded"
	case errors.Is(err, keyring.ErrUnknownKEK):
		return "unknown-kek"
	case errors.Is(err, kms.ErrKeyDestroyed):
		return "key-destroyed"
	case errors.Is(err, kms.ErrVersionTooOld):
		return "key-version-too-old"
	case kms.IsRetryable(err):
		return "kms-unavailable"
	default:
		return "decrypt-failed"
	}
}

// transient reports whether err may go away without any change to the
// record: the caller's context ended, the keyring closed, or the KMS
// failed in a way a retry can fix.
func transient(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, keyring.ErrClosed) || kms.IsRetryable(err)
}
