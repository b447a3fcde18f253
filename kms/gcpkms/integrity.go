package gcpkms

import (
	"errors"
	"fmt"
	"hash/crc32"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum returns the CRC32C of data in the form Cloud KMS requests carry.
func checksum(data []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(data, castagnoli)))
}

// matchesChecksum reports whether sum is present and equals the CRC32C of
// data.
func matchesChecksum(data []byte, sum *wrapperspb.Int64Value) bool {
	return sum != nil && sum.GetValue() == int64(crc32.Checksum(data, castagnoli))
}

// checkEncryptResponse validates an Encrypt response for keyName and
// returns the number of the version that encrypted. The errors name fields
// and sizes only, never data.
func checkEncryptResponse(keyName string, resp *kmspb.EncryptResponse) (uint32, error) {
	if !resp.GetVerifiedPlaintextCrc32C() {
		return 0, errors.New("response to Encrypt does not confirm that Cloud KMS verified the plaintext checksum")
	}
	if !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() {
		return 0, errors.New("response to Encrypt does not confirm that Cloud KMS verified the additional authenticated data checksum")
	}
	if len(resp.GetCiphertext()) == 0 {
		return 0, errors.New("response to Encrypt has an empty ciphertext")
	}
	if !matchesChecksum(resp.GetCiphertext(), resp.GetCiphertextCrc32C()) {
		return 0, fmt.Errorf("ciphertext of %d bytes does not match the ciphertext checksum in the response", len(resp.GetCiphertext()))
	}
	return versionNumber(keyName, resp.GetName())
}

// checkDecryptResponse validates a Decrypt response.
func checkDecryptResponse(resp *kmspb.DecryptResponse) error {
	if len(resp.GetPlaintext()) == 0 {
		return errors.New("response to Decrypt has an empty plaintext")
	}
	if !matchesChecksum(resp.GetPlaintext(), resp.GetPlaintextCrc32C()) {
		return fmt.Errorf("plaintext of %d bytes does not match the plaintext checksum in the response", len(resp.GetPlaintext()))
	}
	return nil
}
