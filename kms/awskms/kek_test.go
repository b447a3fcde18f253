package awskms_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/awskms"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

func TestConformance(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	client := newClient(endpoint)
	kmstest.Run(t, func(t *testing.T) kms.KEK {
		if strings.HasSuffix(t.Name(), "/Tampered") {
			t.Skip("local-kms does not authenticate the key ARN in its ciphertext when Decrypt names the KeyId; TestUnwrapTampered covers the other bytes")
		}
		return newKEK(t, client, key.alias)
	})
}

// TestUnwrapTampered flips one bit in each byte of a wrapped key in turn.
// local-kms lays out a ciphertext as one length byte, the key ARN, a 4-byte
// backing-key version, then the AES-GCM nonce, ciphertext and tag. When
// Decrypt names the KeyId, as Unwrap always does, local-kms ignores the ARN
// bytes and does not authenticate them, so the test skips them.
//
// AWS KMS differs here: it protects the cleartext header of its ciphertext
// as additional authenticated data (AWS KMS Cryptographic Details,
// "Customer data operations"), so it rejects an altered header too.
func TestUnwrapTampered(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	kek := newKEK(t, newClient(endpoint), key.arn)
	ec := kms.EncryptionContext{"topic": "lab-results"}
	dek := newDEK(t)
	w, err := kek.Wrap(t.Context(), dek, ec)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}

	arnEnd := 1 + len(key.arn)
	if int(w.Ciphertext[0]) != len(key.arn) || string(w.Ciphertext[1:arnEnd]) != key.arn {
		t.Fatalf("wrapped key does not start with the length and ARN of the key: the local-kms ciphertext layout changed")
	}
	for i := range w.Ciphertext {
		if i >= 1 && i < arnEnd {
			continue
		}
		altered := kms.Wrapped{Ciphertext: bytes.Clone(w.Ciphertext)}
		altered.Ciphertext[i] ^= 0x01
		got, err := kek.Unwrap(t.Context(), altered, ec)
		if !errors.Is(err, kms.ErrContextMismatch) {
			t.Errorf("Unwrap(ctx) with byte %d altered err = %v, want ErrContextMismatch", i, err)
		}
		if got != nil {
			t.Errorf("Unwrap(ctx) with byte %d altered returned key bytes, want nil", i)
		}
		kmstest.CheckNoLeak(t, err, dek)
	}
}

func TestUnwrapLength(t *testing.T) {
	endpoint := localKMS(t)
	var rec callRecorder
	kek := newKEK(t, newClient(endpoint, rec.add), createKey(t, endpoint).arn)
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"shorter than nonce, key and tag", 59},
		{"longer than Decrypt accepts", 6145},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kek.Unwrap(t.Context(), kms.Wrapped{Ciphertext: make([]byte, tc.size)}, nil)
			checkKind(t, "Unwrap(ctx)", err, kms.ErrContextMismatch, kms.OpUnwrap)
		})
	}
	if n := rec.count("Decrypt"); n != 0 {
		t.Errorf("Decrypt calls = %d, want 0: Unwrap must reject these lengths before calling AWS KMS", n)
	}
}

func TestRoundTripKeyForms(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	client := newClient(endpoint)
	ec := kms.EncryptionContext{"topic": "lab-results", "kek": "lab-results"}

	forms := []struct{ name, keyID string }{
		{"key id", key.id},
		{"key ARN", key.arn},
		{"alias name", key.alias},
		{"alias ARN", key.aliasARN},
	}
	keks := make([]*awskms.KEK, len(forms))
	for i, f := range forms {
		keks[i] = newKEK(t, client, f.keyID)
	}

	// Every form names the same key, so a key wrapped through one form
	// unwraps through every other.
	for i, wrapForm := range forms {
		t.Run(wrapForm.name, func(t *testing.T) {
			dek := newDEK(t)
			w, err := keks[i].Wrap(t.Context(), dek, ec)
			if err != nil {
				t.Fatalf("Wrap(ctx) err = %v, want nil", err)
			}
			if w.Version != 0 {
				t.Errorf("Wrap(ctx) Version = %d, want 0", w.Version)
			}
			for j, unwrapForm := range forms {
				got, err := keks[j].Unwrap(t.Context(), w, ec)
				if err != nil {
					t.Fatalf("Unwrap(ctx) via %s err = %v, want nil", unwrapForm.name, err)
				}
				if !bytes.Equal(got, dek) {
					t.Errorf("Unwrap(ctx) via %s returned a different key", unwrapForm.name)
				}
			}
		})
	}
}

func TestKeyARN(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	client := newClient(endpoint)

	tests := []struct{ name, keyID, want string }{
		{"key id", key.id, ""},
		{"key ARN", key.arn, key.arn},
		{"alias name", key.alias, key.arn},
		{"alias ARN", key.aliasARN, key.arn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := newKEK(t, client, tc.keyID).KeyARN(); got != tc.want {
				t.Errorf("KeyARN() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUnwrapContextMismatch(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	kek := newKEK(t, newClient(endpoint), key.arn)
	wrapEC := kms.EncryptionContext{"topic": "lab-results"}
	dek := newDEK(t)
	w, err := kek.Wrap(t.Context(), dek, wrapEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}

	tests := []struct {
		name string
		ec   kms.EncryptionContext
	}{
		{"other value", kms.EncryptionContext{"topic": "admissions"}},
		{"extra pair", kms.EncryptionContext{"topic": "lab-results", "partition": "0"}},
		{"missing", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kek.Unwrap(t.Context(), w, tc.ec)
			if !errors.Is(err, kms.ErrContextMismatch) {
				t.Fatalf("Unwrap(ctx) err = %v, want ErrContextMismatch", err)
			}
			if got != nil {
				t.Error("Unwrap(ctx) returned key bytes with its error, want nil")
			}
			if !strings.Contains(err.Error(), "encryption context differs") {
				t.Errorf("Unwrap(ctx) err = %q, want it to say the encryption context differs", err)
			}
			kmstest.CheckNoLeak(t, err, dek)
		})
	}
}

func TestUnwrapOtherKey(t *testing.T) {
	endpoint := localKMS(t)
	client := newClient(endpoint)
	kek := newKEK(t, client, createKey(t, endpoint).arn)
	other := newKEK(t, client, createKey(t, endpoint).arn)
	ec := kms.EncryptionContext{"topic": "lab-results"}

	w, err := other.Wrap(t.Context(), newDEK(t), ec)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}
	if _, err := kek.Unwrap(t.Context(), w, ec); !errors.Is(err, kms.ErrContextMismatch) {
		t.Errorf("Unwrap(ctx) of a key wrapped under another KMS key err = %v, want ErrContextMismatch", err)
	}
}

func TestUnwrapVersion(t *testing.T) {
	endpoint := localKMS(t)
	kek := newKEK(t, newClient(endpoint), createKey(t, endpoint).arn)
	w, err := kek.Wrap(t.Context(), newDEK(t), nil)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}

	w.Version = 2
	_, err = kek.Unwrap(t.Context(), w, nil)
	if !errors.Is(err, kms.ErrKeyNotFound) {
		t.Fatalf("Unwrap(ctx) of version 2 err = %v, want ErrKeyNotFound", err)
	}
	var kerr *kms.Error
	if errors.As(err, &kerr) && kerr.Version != 2 {
		t.Errorf("Unwrap(ctx) err.Version = %d, want 2", kerr.Version)
	}
}

func TestDisabledKey(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	kek := newKEK(t, newClient(endpoint), key.alias)
	ec := kms.EncryptionContext{"topic": "lab-results"}
	w, err := kek.Wrap(t.Context(), newDEK(t), ec)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}

	if _, err := key.adminClient.DisableKey(t.Context(), &awssdk.DisableKeyInput{KeyId: &key.id}); err != nil {
		t.Fatalf("DisableKey(ctx) err = %v, want nil", err)
	}
	_, err = kek.Wrap(t.Context(), newDEK(t), ec)
	checkKind(t, "Wrap(ctx)", err, kms.ErrKeyDisabled, kms.OpWrap)
	_, err = kek.Unwrap(t.Context(), w, ec)
	checkKind(t, "Unwrap(ctx)", err, kms.ErrKeyDisabled, kms.OpUnwrap)

	if _, err := key.adminClient.EnableKey(t.Context(), &awssdk.EnableKeyInput{KeyId: &key.id}); err != nil {
		t.Fatalf("EnableKey(ctx) err = %v, want nil", err)
	}
	if _, err := kek.Unwrap(t.Context(), w, ec); err != nil {
		t.Errorf("Unwrap(ctx) after EnableKey err = %v, want nil", err)
	}
}

func TestPendingDeletion(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	kek := newKEK(t, newClient(endpoint), key.arn)
	ec := kms.EncryptionContext{"topic": "lab-results"}
	dek := newDEK(t)
	w, err := kek.Wrap(t.Context(), dek, ec)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}

	_, err = key.adminClient.ScheduleKeyDeletion(t.Context(), &awssdk.ScheduleKeyDeletionInput{
		KeyId:               &key.id,
		PendingWindowInDays: aws.Int32(7),
	})
	if err != nil {
		t.Fatalf("ScheduleKeyDeletion(ctx) err = %v, want nil", err)
	}
	_, err = kek.Unwrap(t.Context(), w, ec)
	checkKind(t, "Unwrap(ctx)", err, kms.ErrKeyDestroyed, kms.OpUnwrap)
	kmstest.CheckNoLeak(t, err, dek)
	_, err = kek.Wrap(t.Context(), newDEK(t), ec)
	checkKind(t, "Wrap(ctx)", err, kms.ErrKeyDestroyed, kms.OpWrap)
}

func TestKeyNotFound(t *testing.T) {
	endpoint := localKMS(t)
	client := newClient(endpoint)

	kek := newKEK(t, client, "00000000-0000-4000-8000-000000000000")
	_, err := kek.Wrap(t.Context(), newDEK(t), nil)
	checkKind(t, "Wrap(ctx)", err, kms.ErrKeyNotFound, kms.OpWrap)

	_, err = awskms.New(t.Context(), client, "lab-results", "alias/kenvelope-missing")
	checkKind(t, "New(ctx, alias/kenvelope-missing)", err, kms.ErrKeyNotFound, "resolve alias")
}

func TestGrantTokens(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	var rec callRecorder
	tokens := []string{"grant-token-1", "grant-token-2"}
	kek := newKEK(t, newClient(endpoint, rec.add), key.alias, awskms.GrantTokens(tokens))

	// local-kms accepts and ignores grant tokens, so the recorder checks
	// that every request carries them.
	ec := kms.EncryptionContext{"topic": "lab-results"}
	w, err := kek.Wrap(t.Context(), newDEK(t), ec)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v, want nil", err)
	}
	if _, err := kek.Unwrap(t.Context(), w, ec); err != nil {
		t.Fatalf("Unwrap(ctx) err = %v, want nil", err)
	}

	calls := rec.all()
	ops := make([]string, len(calls))
	for i, c := range calls {
		ops[i] = c.op
		if !slices.Equal(c.grantTokens, tokens) {
			t.Errorf("%s GrantTokens = %q, want %q", c.op, c.grantTokens, tokens)
		}
	}
	if want := []string{"DescribeKey", "Encrypt", "Decrypt"}; !slices.Equal(ops, want) {
		t.Errorf("calls = %q, want %q", ops, want)
	}
}

func TestAliasResolvedOnce(t *testing.T) {
	endpoint := localKMS(t)
	key := createKey(t, endpoint)
	tests := []struct {
		name     string
		keyID    string
		describe int
	}{
		{"alias name", key.alias, 1},
		{"alias ARN", key.aliasARN, 1},
		{"key ARN", key.arn, 0},
		{"key id", key.id, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec callRecorder
			kek := newKEK(t, newClient(endpoint, rec.add), tc.keyID)
			for range 3 {
				w, err := kek.Wrap(t.Context(), newDEK(t), nil)
				if err != nil {
					t.Fatalf("Wrap(ctx) err = %v, want nil", err)
				}
				if _, err := kek.Unwrap(t.Context(), w, nil); err != nil {
					t.Fatalf("Unwrap(ctx) err = %v, want nil", err)
				}
			}
			if got := rec.count("DescribeKey"); got != tc.describe {
				t.Errorf("DescribeKey calls = %d, want %d", got, tc.describe)
			}
			if got := rec.count("Encrypt"); got != 3 {
				t.Errorf("Encrypt calls = %d, want 3", got)
			}
		})
	}
}

// checkKind checks that err is a *kms.Error of the given kind and operation
// that names the test KEK.
func checkKind(t *testing.T, call string, err, kind error, op kms.Op) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s err = %v, want %s", call, err, kindName(kind))
	}
	var kerr *kms.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("%s err = %v (%T), want a *kms.Error", call, err, err)
	}
	if kerr.Op != op {
		t.Errorf("%s err.Op = %q, want %q", call, kerr.Op, op)
	}
	if kerr.KEK != "lab-results" {
		t.Errorf("%s err.KEK = %q, want %q", call, kerr.KEK, "lab-results")
	}
}

// kindName returns the Go name of a kms sentinel error, for test messages.
func kindName(kind error) string {
	names := map[error]string{
		kms.ErrKeyNotFound:     "ErrKeyNotFound",
		kms.ErrKeyDisabled:     "ErrKeyDisabled",
		kms.ErrKeyDestroyed:    "ErrKeyDestroyed",
		kms.ErrContextMismatch: "ErrContextMismatch",
		kms.ErrThrottled:       "ErrThrottled",
		kms.ErrUnavailable:     "ErrUnavailable",
		kms.ErrInvalidResponse: "ErrInvalidResponse",
		kms.ErrPermission:      "ErrPermission",
		kms.ErrInvalidConfig:   "ErrInvalidConfig",
	}
	if name, ok := names[kind]; ok {
		return name
	}
	return kind.Error()
}
