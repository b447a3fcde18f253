package gcpkms

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kenvelope/kenvelope/kms"
)

// classify maps an error from the Cloud KMS client to a kms sentinel error
// and the cause to record with it:
//
//	gRPC status                                    kms sentinel
//	NotFound                                       ErrKeyNotFound
//	FailedPrecondition with state DESTROYED or
//	DESTROY_SCHEDULED                              ErrKeyDestroyed
//	FailedPrecondition otherwise                   ErrKeyDisabled
//	InvalidArgument naming a checksum              ErrInvalidResponse
//	InvalidArgument on Unwrap otherwise            ErrContextMismatch
//	InvalidArgument on Wrap or PrimaryVersion      ErrInvalidConfig
//	PermissionDenied, Unauthenticated              ErrPermission
//	ResourceExhausted                              ErrThrottled
//	Unavailable, DeadlineExceeded, Internal,
//	Aborted, Unknown, DataLoss, Canceled           ErrUnavailable
//	no gRPC status                                 ErrUnavailable
//	any other code                                 ErrInvalidConfig
func classify(op kms.Op, err error) (kind, cause error) {
	st, ok := status.FromError(err)
	if !ok {
		// Errors without a gRPC status come from the client itself, such
		// as the bare context error it returns when the context ends
		// between its retries. They count as failing to reach Cloud KMS.
		return kms.ErrUnavailable, err
	}

	switch st.Code() {
	case codes.NotFound:
		return kms.ErrKeyNotFound, err
	case codes.FailedPrecondition:
		return classifyState(st.Message()), err
	case codes.InvalidArgument:
		return classifyInvalidArgument(op, st.Message(), err)
	case codes.PermissionDenied, codes.Unauthenticated:
		return kms.ErrPermission, err
	case codes.ResourceExhausted:
		return kms.ErrThrottled, err
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Aborted,
		codes.Unknown, codes.DataLoss, codes.Canceled:
		return kms.ErrUnavailable, err
	default:
		return kms.ErrInvalidConfig, err
	}
}

// statePrefix precedes the version state in Cloud KMS's FailedPrecondition
// message "<version name> is not enabled, current state is: <STATE>.".
const statePrefix = "current state is: "

// classifyState maps a FailedPrecondition message to a sentinel. It reads
// only the state after the last statePrefix, because the version name
// before it may itself contain DESTROYED, as in a crypto key id such as
// DESTROYED-archive. A FailedPrecondition that names no state, such as a
// key whose purpose is not ENCRYPT_DECRYPT, also means a key that exists
// but cannot serve the call, so it gets ErrKeyDisabled too, and the cause
// keeps Google's message.
func classifyState(msg string) error {
	i := strings.LastIndex(msg, statePrefix)
	if i < 0 {
		return kms.ErrKeyDisabled
	}
	state := msg[i+len(statePrefix):]
	if end := strings.IndexFunc(state, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r == '_') }); end >= 0 {
		state = state[:end]
	}
	switch state {
	case "DESTROYED", "DESTROY_SCHEDULED":
		return kms.ErrKeyDestroyed
	default:
		return kms.ErrKeyDisabled
	}
}

// classifyInvalidArgument maps an InvalidArgument status. Cloud KMS rejects a
// request whose data does not match the CRC32C sent with it, which means the
// request was damaged on its way and a retry can help. It returns
// "Decryption failed" when the additional authenticated data differs from
// the one used to encrypt and also when the ciphertext was altered, and it
// does not say which.
//
// NOTE: the match on "checksum" follows the wording of the field
// documentation in kmspb (client v1.37.0). The exact text of Google's
// checksum error has not been checked against the live service.
func classifyInvalidArgument(op kms.Op, msg string, err error) (kind, cause error) {
	lower := strings.ToLower(msg)
	if strings.Contains(lower, "checksum") || strings.Contains(lower, "crc32c") {
		return kms.ErrInvalidResponse, fmt.Errorf("request checksum mismatch reported by Cloud KMS, so the request was damaged in transit: %w", err)
	}
	if op == kms.OpUnwrap {
		return kms.ErrContextMismatch, fmt.Errorf("decryption failed in Cloud KMS: the encryption context did not match the one the key was wrapped with, or the wrapped key was altered: %w", err)
	}
	return kms.ErrInvalidConfig, err
}
