package gcpkms_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/gcpkms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// callEach calls Wrap, Unwrap and PrimaryVersion once each and returns
// their errors by operation.
func callEach(t *testing.T, kek *gcpkms.KEK, w kms.Wrapped) map[kms.Op]error {
	t.Helper()
	_, wrapErr := kek.Wrap(t.Context(), bytes.Clone(testDEK), topicEC())
	_, unwrapErr := kek.Unwrap(t.Context(), w, topicEC())
	_, versionErr := kek.PrimaryVersion(t.Context())
	return map[kms.Op]error{kms.OpWrap: wrapErr, kms.OpUnwrap: unwrapErr, kms.OpVersion: versionErr}
}

func TestCallFailureKinds(t *testing.T) {
	tests := []struct {
		code      codes.Code
		want      error
		retryable bool
	}{
		{codes.ResourceExhausted, kms.ErrThrottled, true},
		{codes.Unavailable, kms.ErrUnavailable, true},
		{codes.DeadlineExceeded, kms.ErrUnavailable, true},
		{codes.Internal, kms.ErrUnavailable, true},
		{codes.Aborted, kms.ErrUnavailable, true},
		{codes.Unknown, kms.ErrUnavailable, true},
		{codes.PermissionDenied, kms.ErrPermission, false},
		{codes.Unauthenticated, kms.ErrPermission, false},
		{codes.NotFound, kms.ErrKeyNotFound, false},
		{codes.Unimplemented, kms.ErrInvalidConfig, false},
	}
	for _, tc := range tests {
		t.Run(tc.code.String(), func(t *testing.T) {
			srv := startFake(t)
			kek := newKEK(t, withoutRetries(newClient(t, srv)))
			w := wrap(t, kek, topicEC())

			srv.FailNext(tc.code, 3)
			for op, err := range callEach(t, kek, w) {
				kerr := checkError(t, err, op, tc.want, tc.retryable)
				if op == kms.OpUnwrap && kerr.Version != w.Version {
					t.Errorf("Unwrap(ctx) err.Version = %d, want %d", kerr.Version, w.Version)
				}
			}
			unwrapOK(t, kek, wrap(t, kek, topicEC()), topicEC())
		})
	}
}

// TestClientRetriesUnavailable checks the documented default: the Cloud KMS
// client retries Unavailable by itself, so a short outage never reaches the
// KEK.
func TestClientRetriesUnavailable(t *testing.T) {
	srv := startFake(t)
	kek := newKEK(t, newClient(t, srv))

	srv.FailNext(codes.Unavailable, 2)
	unwrapOK(t, kek, wrap(t, kek, topicEC()), topicEC())
}

func TestCallerContextEnded(t *testing.T) {
	srv := startFake(t)
	kek := newKEK(t, newClient(t, srv))
	w := wrap(t, kek, topicEC())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := kek.Unwrap(ctx, w, topicEC())
	checkError(t, err, kms.OpUnwrap, kms.ErrUnavailable, true)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Unwrap(canceled ctx) err = %v, want it to wrap context.Canceled", err)
	}

	// The client retries Unavailable until the deadline, and then reports
	// the deadline, not the last status.
	srv.FailNext(codes.Unavailable, 1000)
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = kek.Wrap(ctx, bytes.Clone(testDEK), topicEC())
	checkError(t, err, kms.OpWrap, kms.ErrUnavailable, true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wrap(expired ctx) err = %v, want it to wrap context.DeadlineExceeded", err)
	}
}

// TestErrorsOmitDataKey drives every error path of Wrap and Unwrap that the
// fake server can produce and checks that no message contains the data key.
func TestErrorsOmitDataKey(t *testing.T) {
	srv := startFake(t)
	kek := newKEK(t, withoutRetries(newClient(t, srv)))
	w := wrap(t, kek, topicEC())

	var errs []error
	collect := func() {
		_, err := kek.Wrap(t.Context(), bytes.Clone(testDEK), topicEC())
		errs = append(errs, err)
		_, err = kek.Unwrap(t.Context(), w, topicEC())
		errs = append(errs, err)
	}
	for _, code := range []codes.Code{codes.InvalidArgument, codes.FailedPrecondition, codes.Internal, codes.PermissionDenied} {
		srv.FailNext(code, 2)
		collect()
	}
	srv.CorruptResponseChecksum(true)
	collect()
	srv.CorruptResponseChecksum(false)
	srv.DropVerifiedFlags(true)
	_, err := kek.Wrap(t.Context(), bytes.Clone(testDEK), topicEC())
	errs = append(errs, err)
	srv.DropVerifiedFlags(false)
	_, err = kek.Unwrap(t.Context(), w, kms.EncryptionContext{"topic": "billing"})
	errs = append(errs, err)
	_, err = kek.Wrap(t.Context(), append(bytes.Clone(testDEK), 0), topicEC())
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Errorf("error path %d returned nil, want an error", i)
			continue
		}
		kmstest.CheckNoLeak(t, err, testDEK)
	}
}
