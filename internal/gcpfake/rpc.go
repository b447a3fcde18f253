package gcpfake

import (
	"context"
	"hash/crc32"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// maxDataLen is the Cloud KMS limit on the plaintext and the additional
// authenticated data of a symmetric Encrypt request: 64 KiB each.
const maxDataLen = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encrypt encrypts the request's plaintext under the primary version of the
// named crypto key, or under the named version.
func (s *Server) Encrypt(_ context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.injectedFailure(); err != nil {
		return nil, err
	}
	if err := checkEncryptRequest(req); err != nil {
		return nil, err
	}

	key, version, err := s.encryptVersion(req.GetName())
	if err != nil {
		return nil, err
	}
	ciphertext := version.seal(req.GetPlaintext(), req.GetAdditionalAuthenticatedData())

	resp := &kmspb.EncryptResponse{
		Name:                    key.versionName(version.number),
		Ciphertext:              ciphertext,
		CiphertextCrc32C:        checksum(ciphertext),
		VerifiedPlaintextCrc32C: req.GetPlaintextCrc32C() != nil,
		VerifiedAdditionalAuthenticatedDataCrc32C: req.GetAdditionalAuthenticatedDataCrc32C() != nil,
		ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
	}
	if s.faults.corruptChecksum {
		resp.CiphertextCrc32C = wrongChecksum(ciphertext)
	}
	if s.faults.dropVerified {
		resp.VerifiedPlaintextCrc32C = false
		resp.VerifiedAdditionalAuthenticatedDataCrc32C = false
	}
	return resp, nil
}

// Decrypt decrypts a ciphertext that Encrypt returned for the named crypto
// key, with the version that the ciphertext names.
func (s *Server) Decrypt(_ context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.injectedFailure(); err != nil {
		return nil, err
	}
	if err := checkDecryptRequest(req); err != nil {
		return nil, err
	}

	key, ok := s.keys[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "%s not found.", req.GetName())
	}
	number, err := ciphertextVersion(req.GetCiphertext())
	if err != nil {
		return nil, decryptFailed()
	}
	version := key.version(number)
	if version == nil {
		return nil, decryptFailed()
	}
	if err := checkEnabled(key, version); err != nil {
		return nil, err
	}
	plaintext, err := version.open(req.GetCiphertext(), req.GetAdditionalAuthenticatedData())
	if err != nil {
		return nil, decryptFailed()
	}

	resp := &kmspb.DecryptResponse{
		Plaintext:       plaintext,
		PlaintextCrc32C: checksum(plaintext),
		UsedPrimary:     number == key.primary,
		ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
	}
	if s.faults.corruptChecksum {
		resp.PlaintextCrc32C = wrongChecksum(plaintext)
	}
	return resp, nil
}

// GetCryptoKey returns the named crypto key with its primary version.
func (s *Server) GetCryptoKey(_ context.Context, req *kmspb.GetCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.injectedFailure(); err != nil {
		return nil, err
	}
	key, ok := s.keys[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "%s not found.", req.GetName())
	}
	primary := key.version(key.primary)
	return &kmspb.CryptoKey{
		Name:    key.name,
		Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT,
		Primary: &kmspb.CryptoKeyVersion{
			Name:            key.versionName(primary.number),
			State:           primary.state,
			ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
			Algorithm:       kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
		},
	}, nil
}

// injectedFailure returns the status that FailNext set up, if calls are
// left to fail. The caller holds s.mu.
func (s *Server) injectedFailure() error {
	if s.faults.failLeft <= 0 {
		return nil
	}
	s.faults.failLeft--
	return status.Errorf(s.faults.failCode, "gcpfake: injected %s failure", s.faults.failCode)
}

// encryptVersion finds the version that Encrypt uses for name, which names
// a crypto key or one of its versions. The caller holds s.mu.
func (s *Server) encryptVersion(name string) (*cryptoKey, *keyVersion, error) {
	keyName, number, named := splitVersionName(name)
	if !named {
		keyName = name
	}
	key, ok := s.keys[keyName]
	if !ok {
		return nil, nil, status.Errorf(codes.NotFound, "%s not found.", name)
	}
	if !named {
		number = key.primary
	}
	version := key.version(number)
	if version == nil {
		return nil, nil, status.Errorf(codes.NotFound, "%s not found.", name)
	}
	if err := checkEnabled(key, version); err != nil {
		return nil, nil, err
	}
	return key, version, nil
}

func checkEnabled(key *cryptoKey, version *keyVersion) error {
	if version.state == kmspb.CryptoKeyVersion_ENABLED {
		return nil
	}
	return status.Errorf(codes.FailedPrecondition, "%s is not enabled, current state is: %s.",
		key.versionName(version.number), version.state)
}

func checkEncryptRequest(req *kmspb.EncryptRequest) error {
	if len(req.GetPlaintext()) == 0 {
		return status.Error(codes.InvalidArgument, "plaintext is required.")
	}
	if len(req.GetPlaintext()) > maxDataLen || len(req.GetAdditionalAuthenticatedData()) > maxDataLen {
		return status.Errorf(codes.InvalidArgument, "plaintext and additional_authenticated_data are limited to %d bytes each.", maxDataLen)
	}
	if err := verifyChecksum("plaintext", req.GetPlaintext(), req.GetPlaintextCrc32C()); err != nil {
		return err
	}
	return verifyChecksum("additional_authenticated_data", req.GetAdditionalAuthenticatedData(),
		req.GetAdditionalAuthenticatedDataCrc32C())
}

func checkDecryptRequest(req *kmspb.DecryptRequest) error {
	if len(req.GetCiphertext()) == 0 {
		return status.Error(codes.InvalidArgument, "ciphertext is required.")
	}
	if err := verifyChecksum("ciphertext", req.GetCiphertext(), req.GetCiphertextCrc32C()); err != nil {
		return err
	}
	return verifyChecksum("additional_authenticated_data", req.GetAdditionalAuthenticatedData(),
		req.GetAdditionalAuthenticatedDataCrc32C())
}

// verifyChecksum checks data against the CRC32C a request sent for it, when
// it sent one, as Cloud KMS does for its optional *_crc32c fields.
func verifyChecksum(field string, data []byte, sum *wrapperspb.Int64Value) error {
	if sum == nil || sum.GetValue() == int64(crc32.Checksum(data, castagnoli)) {
		return nil
	}
	return status.Errorf(codes.InvalidArgument,
		"The checksum in field %s_crc32c did not match the data in field %s.", field, field)
}

// decryptFailed is the status Cloud KMS returns for a ciphertext it cannot
// authenticate, whether the data or the additional authenticated data is
// wrong.
func decryptFailed() error {
	return status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
}

func checksum(data []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(data, castagnoli)))
}

func wrongChecksum(data []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(data, castagnoli) ^ 0x5a5a5a5a))
}
