package gcpfake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

// keyNamePattern matches a crypto key resource name. The fake checks the
// shape only, not Google's length and character rules for each id.
var keyNamePattern = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// versionHeaderLen is the length of the version number that starts every
// ciphertext the fake returns.
const versionHeaderLen = 4

// errDecrypt stands for every authentication failure in Decrypt, so the fake,
// like Cloud KMS, does not tell a wrong key from altered data.
var errDecrypt = errors.New("decryption failed")

// keyVersion is one crypto key version with its own AES-256-GCM key.
type keyVersion struct {
	number uint32
	state  kmspb.CryptoKeyVersion_CryptoKeyVersionState
	aead   cipher.AEAD // nil once the version is destroyed
}

// cryptoKey is a symmetric crypto key. versions[i] has number i+1.
type cryptoKey struct {
	name     string
	primary  uint32
	versions []*keyVersion
}

func newKeyVersion(number uint32) (*keyVersion, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("gcpfake: generate key material: %w", err)
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("gcpfake: create AES cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("gcpfake: create GCM: %w", err)
	}
	return &keyVersion{number: number, state: kmspb.CryptoKeyVersion_ENABLED, aead: aead}, nil
}

// addVersion appends a new enabled version and makes it the primary.
func (k *cryptoKey) addVersion() (uint32, error) {
	number := uint32(len(k.versions) + 1)
	v, err := newKeyVersion(number)
	if err != nil {
		return 0, err
	}
	k.versions = append(k.versions, v)
	k.primary = number
	return number, nil
}

// version returns version number n, or nil when the key has none.
func (k *cryptoKey) version(n uint32) *keyVersion {
	if n == 0 || int(n) > len(k.versions) {
		return nil
	}
	return k.versions[n-1]
}

func (k *cryptoKey) versionName(n uint32) string {
	return k.name + "/cryptoKeyVersions/" + strconv.FormatUint(uint64(n), 10)
}

// seal encrypts plaintext under v. The ciphertext is the version number
// (4 bytes, big-endian) followed by nonce, sealed data and tag. GCM
// authenticates the version header together with aad.
func (v *keyVersion) seal(plaintext, aad []byte) []byte {
	header := binary.BigEndian.AppendUint32(nil, v.number)
	return v.aead.Seal(header, nil, plaintext, associatedData(header, aad))
}

// open decrypts a ciphertext that seal produced under v.
func (v *keyVersion) open(ciphertext, aad []byte) ([]byte, error) {
	header := ciphertext[:versionHeaderLen]
	plaintext, err := v.aead.Open(nil, nil, ciphertext[versionHeaderLen:], associatedData(header, aad))
	if err != nil {
		return nil, errDecrypt
	}
	return plaintext, nil
}

func associatedData(header, aad []byte) []byte {
	out := make([]byte, 0, len(header)+len(aad))
	return append(append(out, header...), aad...)
}

// ciphertextVersion reads the version number that starts a ciphertext.
func ciphertextVersion(ciphertext []byte) (uint32, error) {
	if len(ciphertext) <= versionHeaderLen {
		return 0, errDecrypt
	}
	return binary.BigEndian.Uint32(ciphertext), nil
}

// splitVersionName splits a crypto key version name into the crypto key
// name and the version number. ok is false when name names no version.
func splitVersionName(name string) (key string, number uint32, ok bool) {
	key, tail, found := strings.Cut(name, "/cryptoKeyVersions/")
	if !found {
		return "", 0, false
	}
	n, err := strconv.ParseUint(tail, 10, 32)
	if err != nil || n == 0 {
		return "", 0, false
	}
	return key, uint32(n), true
}
