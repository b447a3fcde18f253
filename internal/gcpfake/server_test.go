package gcpfake_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"testing"

	kmsapi "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kenvelope/kenvelope/internal/gcpfake"
)

const keyName = "projects/p/locations/global/keyRings/r/cryptoKeys/k"

var (
	plaintext = []byte("gcpfake test plaintext")
	aad       = []byte("topic=lab-results")
)

func crc(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))))
}

// start returns a running server with the key keyName and a client for it
// without the client's default retries, so every status reaches the test.
func start(t *testing.T) (*gcpfake.Server, *kmsapi.KeyManagementClient) {
	t.Helper()
	srv, err := gcpfake.Start()
	if err != nil {
		t.Fatalf("Start() err = %v", err)
	}
	t.Cleanup(srv.Close)
	if err := srv.CreateKey(keyName); err != nil {
		t.Fatalf("CreateKey() err = %v", err)
	}
	client, err := srv.NewClient(context.Background())
	if err != nil {
		t.Fatalf("NewClient() err = %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	client.CallOptions = &kmsapi.KeyManagementCallOptions{}
	return srv, client
}

func encrypt(t *testing.T, client *kmsapi.KeyManagementClient) *kmspb.EncryptResponse {
	t.Helper()
	resp, err := client.Encrypt(t.Context(), &kmspb.EncryptRequest{
		Name: keyName, Plaintext: plaintext, AdditionalAuthenticatedData: aad,
		PlaintextCrc32C: crc(plaintext), AdditionalAuthenticatedDataCrc32C: crc(aad),
	})
	if err != nil {
		t.Fatalf("Encrypt() err = %v, want nil", err)
	}
	return resp
}

func decrypt(t *testing.T, client *kmsapi.KeyManagementClient, ciphertext, aad []byte) (*kmspb.DecryptResponse, error) {
	t.Helper()
	return client.Decrypt(t.Context(), &kmspb.DecryptRequest{
		Name: keyName, Ciphertext: ciphertext, AdditionalAuthenticatedData: aad,
		CiphertextCrc32C: crc(ciphertext), AdditionalAuthenticatedDataCrc32C: crc(aad),
	})
}

func wantCode(t *testing.T, call string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s err = %v, want code %s", call, err, want)
	}
}

func TestEncryptDecrypt(t *testing.T) {
	_, client := start(t)
	resp := encrypt(t, client)

	if resp.GetName() != keyName+"/cryptoKeyVersions/1" {
		t.Errorf("Encrypt() Name = %q, want version 1 of %s", resp.GetName(), keyName)
	}
	if !resp.GetVerifiedPlaintextCrc32C() || !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() {
		t.Error("Encrypt() verified flags are false, want true for checksums sent")
	}
	if resp.GetCiphertextCrc32C().GetValue() != crc(resp.GetCiphertext()).GetValue() {
		t.Error("Encrypt() CiphertextCrc32C does not match Ciphertext")
	}

	got, err := decrypt(t, client, resp.GetCiphertext(), aad)
	if err != nil {
		t.Fatalf("Decrypt() err = %v, want nil", err)
	}
	if !bytes.Equal(got.GetPlaintext(), plaintext) {
		t.Error("Decrypt() Plaintext differs from the encrypted plaintext")
	}
	if got.GetPlaintextCrc32C().GetValue() != crc(plaintext).GetValue() {
		t.Error("Decrypt() PlaintextCrc32C does not match Plaintext")
	}

	_, err = decrypt(t, client, resp.GetCiphertext(), []byte("topic=billing"))
	wantCode(t, "Decrypt(other AAD)", err, codes.InvalidArgument)
}

func TestEncryptUnverifiedWithoutChecksums(t *testing.T) {
	_, client := start(t)
	resp, err := client.Encrypt(t.Context(), &kmspb.EncryptRequest{Name: keyName, Plaintext: plaintext})
	if err != nil {
		t.Fatalf("Encrypt() err = %v, want nil", err)
	}
	if resp.GetVerifiedPlaintextCrc32C() || resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() {
		t.Error("Encrypt() without checksums set verified flags, want false")
	}
}

func TestRequestChecksumMismatch(t *testing.T) {
	_, client := start(t)
	ciphertext := encrypt(t, client).GetCiphertext()
	wrong := wrapperspb.Int64(12345)

	_, err := client.Encrypt(t.Context(), &kmspb.EncryptRequest{Name: keyName, Plaintext: plaintext, PlaintextCrc32C: wrong})
	wantCode(t, "Encrypt(wrong plaintext checksum)", err, codes.InvalidArgument)
	_, err = client.Encrypt(t.Context(), &kmspb.EncryptRequest{
		Name: keyName, Plaintext: plaintext, AdditionalAuthenticatedData: aad, AdditionalAuthenticatedDataCrc32C: wrong,
	})
	wantCode(t, "Encrypt(wrong AAD checksum)", err, codes.InvalidArgument)
	_, err = client.Decrypt(t.Context(), &kmspb.DecryptRequest{
		Name: keyName, Ciphertext: ciphertext, AdditionalAuthenticatedData: aad, CiphertextCrc32C: wrong,
	})
	wantCode(t, "Decrypt(wrong ciphertext checksum)", err, codes.InvalidArgument)
}

func TestVersionLifecycle(t *testing.T) {
	srv, client := start(t)
	v1 := encrypt(t, client).GetCiphertext()
	if v, err := srv.Rotate(keyName); err != nil || v != 2 {
		t.Fatalf("Rotate() = %d, %v, want 2, nil", v, err)
	}
	if got := encrypt(t, client).GetName(); got != keyName+"/cryptoKeyVersions/2" {
		t.Errorf("Encrypt() after Rotate Name = %q, want version 2", got)
	}
	key, err := client.GetCryptoKey(t.Context(), &kmspb.GetCryptoKeyRequest{Name: keyName})
	if err != nil {
		t.Fatalf("GetCryptoKey() err = %v", err)
	}
	if key.GetPrimary().GetName() != keyName+"/cryptoKeyVersions/2" {
		t.Errorf("GetCryptoKey() Primary.Name = %q, want version 2", key.GetPrimary().GetName())
	}

	if err := srv.DisableVersion(keyName, 1); err != nil {
		t.Fatalf("DisableVersion() err = %v", err)
	}
	_, err = decrypt(t, client, v1, aad)
	wantCode(t, "Decrypt(disabled version)", err, codes.FailedPrecondition)
	if err := srv.EnableVersion(keyName, 1); err != nil {
		t.Fatalf("EnableVersion() err = %v", err)
	}
	if _, err := decrypt(t, client, v1, aad); err != nil {
		t.Errorf("Decrypt(enabled again) err = %v, want nil", err)
	}

	if err := srv.DestroyVersion(keyName, 1); err != nil {
		t.Fatalf("DestroyVersion() err = %v", err)
	}
	_, err = decrypt(t, client, v1, aad)
	wantCode(t, "Decrypt(destroyed version)", err, codes.FailedPrecondition)
	if err := srv.EnableVersion(keyName, 1); err == nil {
		t.Error("EnableVersion(destroyed) err = nil, want an error")
	}
}

func TestFaults(t *testing.T) {
	srv, client := start(t)
	ciphertext := encrypt(t, client).GetCiphertext()

	srv.FailNext(codes.ResourceExhausted, 2)
	_, err := client.Encrypt(t.Context(), &kmspb.EncryptRequest{Name: keyName, Plaintext: plaintext})
	wantCode(t, "Encrypt(first failure)", err, codes.ResourceExhausted)
	_, err = client.GetCryptoKey(t.Context(), &kmspb.GetCryptoKeyRequest{Name: keyName})
	wantCode(t, "GetCryptoKey(second failure)", err, codes.ResourceExhausted)
	encrypt(t, client)

	srv.CorruptResponseChecksum(true)
	resp := encrypt(t, client)
	if resp.GetCiphertextCrc32C().GetValue() == crc(resp.GetCiphertext()).GetValue() {
		t.Error("Encrypt() with CorruptResponseChecksum returned a matching CiphertextCrc32C")
	}
	got, err := decrypt(t, client, ciphertext, aad)
	if err != nil {
		t.Fatalf("Decrypt() err = %v", err)
	}
	if got.GetPlaintextCrc32C().GetValue() == crc(got.GetPlaintext()).GetValue() {
		t.Error("Decrypt() with CorruptResponseChecksum returned a matching PlaintextCrc32C")
	}
	srv.CorruptResponseChecksum(false)

	srv.DropVerifiedFlags(true)
	if resp := encrypt(t, client); resp.GetVerifiedPlaintextCrc32C() || resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() {
		t.Error("Encrypt() with DropVerifiedFlags returned a verified flag set")
	}
}

func TestCreateKeyInvalid(t *testing.T) {
	srv, _ := start(t)
	if err := srv.CreateKey(keyName); err == nil {
		t.Error("CreateKey(existing) err = nil, want an error")
	}
	if err := srv.CreateKey(keyName + "/cryptoKeyVersions/1"); err == nil {
		t.Error("CreateKey(version name) err = nil, want an error")
	}
}
