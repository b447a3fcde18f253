package awskms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kenvelope/kenvelope/kms"
)

// errorKinds maps AWS KMS error codes to kms sentinel errors.
// KMSInvalidStateException is not here because its kind depends on the key
// state, which keyStateKind works out.
var errorKinds = map[string]error{
	"ThrottlingException":    kms.ErrThrottled,
	"LimitExceededException": kms.ErrThrottled,
	"RequestLimitExceeded":   kms.ErrThrottled,

	"KMSInternalException":       kms.ErrUnavailable,
	"DependencyTimeoutException": kms.ErrUnavailable,
	"KeyUnavailableException":    kms.ErrUnavailable,

	"DisabledException": kms.ErrKeyDisabled,
	"NotFoundException": kms.ErrKeyNotFound,

	"AccessDeniedException":       kms.ErrPermission,
	"UnrecognizedClientException": kms.ErrPermission,
	"InvalidSignatureException":   kms.ErrPermission,
	"IncompleteSignature":         kms.ErrPermission,
	"ExpiredTokenException":       kms.ErrPermission,
	"InvalidClientTokenId":        kms.ErrPermission,
	"MissingAuthenticationToken":  kms.ErrPermission,

	"InvalidCiphertextException": kms.ErrContextMismatch,
	"IncorrectKeyException":      kms.ErrContextMismatch,

	"ValidationException":           kms.ErrInvalidConfig,
	"InvalidKeyUsageException":      kms.ErrInvalidConfig,
	"InvalidGrantTokenException":    kms.ErrInvalidConfig,
	"InvalidArnException":           kms.ErrInvalidConfig,
	"UnsupportedOperationException": kms.ErrInvalidConfig,
}

// classify turns an error from an SDK call into a *kms.Error, or wraps the
// context's error when ctx has ended.
func (k *KEK) classify(ctx context.Context, op kms.Op, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("awskms: %s with KEK %q: %w", op, k.name, ctxErr)
	}

	kind := errorKind(err)
	if kind == nil {
		kind = k.keyStateKind(ctx, err)
	}
	if errors.Is(kind, kms.ErrContextMismatch) {
		err = k.mismatchCause(err)
	}
	return k.fail(op, kind, err)
}

// mismatchCause explains an InvalidCiphertextException or
// IncorrectKeyException. For a KEK built from an alias it adds that the
// alias may have been re-pointed, which AWS KMS reports as
// IncorrectKeyException and local-kms as InvalidCiphertextException, and
// which only building the KEK again fixes.
func (k *KEK) mismatchCause(err error) error {
	var hint string
	if k.alias != "" {
		hint = fmt.Sprintf(", or alias %s was re-pointed from %s to another key after this KEK was built, "+
			"which only building the KEK again (restarting the process) fixes", k.alias, k.keyID)
	}
	if errorCode(err) == "IncorrectKeyException" {
		return fmt.Errorf("the wrapped key was encrypted under a different KMS key than %s%s: %w", k.keyID, hint, err)
	}
	return fmt.Errorf("the encryption context differs from the one used by Wrap, or the wrapped key was altered "+
		"(AWS KMS reports both as InvalidCiphertextException)%s: %w", hint, err)
}

// errorKind returns the sentinel error for err, or nil for a
// KMSInvalidStateException.
func errorKind(err error) error {
	code := errorCode(err)
	if code == "KMSInvalidStateException" {
		return nil
	}
	if kind, ok := errorKinds[code]; ok {
		return kind
	}

	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		switch status := respErr.HTTPStatusCode(); {
		case status == http.StatusTooManyRequests:
			return kms.ErrThrottled
		case status >= 500:
			return kms.ErrUnavailable
		}
	}

	var sendErr *smithyhttp.RequestSendError
	var netErr net.Error
	var deserErr *smithy.DeserializationError
	switch {
	case errors.As(err, &sendErr), errors.As(err, &netErr):
		return kms.ErrUnavailable
	case errors.As(err, &deserErr):
		return kms.ErrInvalidResponse
	}
	// NOTE: what remains are unknown 4xx codes and client-side failures such
	// as missing credentials or an invalid region. Treating them as
	// configuration errors stops retries. An error code that AWS KMS adds
	// later and that a retry could fix ends up here too, until it is added
	// to errorKinds.
	return kms.ErrInvalidConfig
}

// errorCode returns the AWS error code in err, or "" if it has none.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// keyStateKind classifies a KMSInvalidStateException. It reads the key
// state from the error message, else from DescribeKey, and falls back to
// kms.ErrKeyDisabled.
func (k *KEK) keyStateKind(ctx context.Context, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		msg := strings.ToLower(apiErr.ErrorMessage())
		switch {
		case strings.Contains(msg, "pending deletion"), strings.Contains(msg, "pendingdeletion"):
			return kms.ErrKeyDestroyed
		case strings.Contains(msg, "is disabled"), strings.Contains(msg, "pending import"):
			return kms.ErrKeyDisabled
		}
	}

	out, descErr := k.client.DescribeKey(ctx, &awssdk.DescribeKeyInput{
		KeyId:       aws.String(k.keyID),
		GrantTokens: k.grantTokens,
	})
	if descErr != nil || out.KeyMetadata == nil {
		return kms.ErrKeyDisabled
	}
	switch out.KeyMetadata.KeyState {
	case types.KeyStatePendingDeletion, types.KeyStatePendingReplicaDeletion:
		return kms.ErrKeyDestroyed
	case types.KeyStateCreating, types.KeyStateUpdating, types.KeyStateUnavailable:
		return kms.ErrUnavailable
	default:
		return kms.ErrKeyDisabled
	}
}
