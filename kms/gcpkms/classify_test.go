package gcpkms

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kenvelope/kenvelope/kms"
)

// TestClassifyMessages covers statuses whose kind depends on the message,
// with the messages Cloud KMS sends. The fake server sends the same forms,
// and the tests in gcpkms_test check them end to end.
func TestClassifyMessages(t *testing.T) {
	const version = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
	tests := []struct {
		name string
		op   kms.Op
		err  error
		want error
	}{
		{"destroyed", kms.OpUnwrap,
			status.Error(codes.FailedPrecondition, version+" is not enabled, current state is: DESTROYED."), kms.ErrKeyDestroyed},
		{"destroy scheduled", kms.OpUnwrap,
			status.Error(codes.FailedPrecondition, version+" is not enabled, current state is: DESTROY_SCHEDULED."), kms.ErrKeyDestroyed},
		{"disabled", kms.OpWrap,
			status.Error(codes.FailedPrecondition, version+" is not enabled, current state is: DISABLED."), kms.ErrKeyDisabled},
		{"disabled key named DESTROYED", kms.OpWrap,
			status.Error(codes.FailedPrecondition, "projects/p/locations/global/keyRings/r/cryptoKeys/DESTROYED-archive/cryptoKeyVersions/1"+
				" is not enabled, current state is: DISABLED."), kms.ErrKeyDisabled},
		{"destroyed key named DISABLED", kms.OpUnwrap,
			status.Error(codes.FailedPrecondition, "projects/p/locations/global/keyRings/r/cryptoKeys/DISABLED/cryptoKeyVersions/1"+
				" is not enabled, current state is: DESTROYED."), kms.ErrKeyDestroyed},
		{"DESTROYED without a state", kms.OpWrap,
			status.Error(codes.FailedPrecondition, "crypto key DESTROYED-archive has purpose ASYMMETRIC_SIGN."), kms.ErrKeyDisabled},
		{"other precondition", kms.OpWrap,
			status.Error(codes.FailedPrecondition, "The request cannot be fulfilled."), kms.ErrKeyDisabled},
		{"decryption failed", kms.OpUnwrap,
			status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid."), kms.ErrContextMismatch},
		{"request checksum on unwrap", kms.OpUnwrap,
			status.Error(codes.InvalidArgument, "The checksum in field ciphertext_crc32c did not match the data in field ciphertext."), kms.ErrInvalidResponse},
		{"request checksum on wrap", kms.OpWrap,
			status.Error(codes.InvalidArgument, "The checksum in field plaintext_crc32c did not match the data in field plaintext."), kms.ErrInvalidResponse},
		{"invalid argument on wrap", kms.OpWrap,
			status.Error(codes.InvalidArgument, "plaintext is required."), kms.ErrInvalidConfig},
		{"no status", kms.OpWrap, errors.New("dial tcp: connection refused"), kms.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, cause := classify(tc.op, tc.err)
			if kind != tc.want {
				t.Errorf("classify(%s, %v) kind = %v, want %v", tc.op, tc.err, kind, tc.want)
			}
			if !errors.Is(cause, tc.err) {
				t.Errorf("classify(%s, %v) cause = %v, want it to wrap the client error", tc.op, tc.err, cause)
			}
		})
	}
}

func TestVersionNumber(t *testing.T) {
	const key = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
	tests := []struct {
		name    string
		want    uint32
		wantErr bool
	}{
		{key + "/cryptoKeyVersions/1", 1, false},
		{key + "/cryptoKeyVersions/4294967295", 4294967295, false},
		{key + "/cryptoKeyVersions/0", 0, true},
		{key + "/cryptoKeyVersions/4294967296", 0, true},
		{key + "/cryptoKeyVersions/-1", 0, true},
		{key + "/cryptoKeyVersions/", 0, true},
		{key + "/cryptoKeyVersions/1/x", 0, true},
		{key, 0, true},
		{"", 0, true},
		{"projects/p/locations/global/keyRings/r/cryptoKeys/other/cryptoKeyVersions/1", 0, true},
	}
	for _, tc := range tests {
		got, err := versionNumber(key, tc.name)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("versionNumber(%q) = %d, %v, want %d, error %t", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}
