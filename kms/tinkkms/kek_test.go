package tinkkms_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"google.golang.org/protobuf/proto"
)

func TestKeysetRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		tmpl   *tinkpb.KeyTemplate
		prefix bool // TINK output prefix: 0x01 and the key id
	}{
		{"aes256gcm", aead.AES256GCMKeyTemplate(), true},
		{"xchacha20poly1305", aead.XChaCha20Poly1305KeyTemplate(), true},
		{"aes256gcm raw", aead.AES256GCMNoPrefixKeyTemplate(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHandle(t, tc.tmpl)
			k := newKeysetKEK(t, h)
			dek := newDEK(t)

			w, err := k.Wrap(ctx, dek, testEC)
			if err != nil {
				t.Fatalf("Wrap(ctx) err = %v", err)
			}
			primary := h.KeysetInfo().GetPrimaryKeyId()
			if w.Version != primary {
				t.Errorf("Wrap(ctx).Version = %d, want primary key id %d", w.Version, primary)
			}
			wantPrefix := binary.BigEndian.AppendUint32([]byte{1}, primary)
			if got := bytes.HasPrefix(w.Ciphertext, wantPrefix); got != tc.prefix {
				t.Errorf("ciphertext starts with 0x01 and key id = %v, want %v", got, tc.prefix)
			}

			got, err := k.Unwrap(ctx, w, testEC)
			if err != nil {
				t.Fatalf("Unwrap(ctx) err = %v", err)
			}
			if !bytes.Equal(got, dek) {
				t.Errorf("Unwrap(ctx) returned a different key than Wrap got")
			}
		})
	}
}

func TestNewRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	k, err := tinkkms.New("lab-results", primitive(t, h))
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	dek := newDEK(t)

	w, err := k.Wrap(ctx, dek, testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	if w.Version != 0 {
		t.Errorf("Wrap(ctx).Version = %d, want 0 for a plain AEAD", w.Version)
	}
	if v, err := k.PrimaryVersion(ctx); err != nil || v != 0 {
		t.Errorf("PrimaryVersion(ctx) = %d, %v, want 0, nil", v, err)
	}
	got, err := k.Unwrap(ctx, w, testEC)
	if err != nil {
		t.Fatalf("Unwrap(ctx) err = %v", err)
	}
	if !bytes.Equal(got, dek) {
		t.Errorf("Unwrap(ctx) returned a different key than Wrap got")
	}

	// A KEK built from the same keyset unwraps it too, because Tink finds
	// the key by the ciphertext's prefix.
	got, err = newKeysetKEK(t, h).Unwrap(ctx, w, testEC)
	if err != nil || !bytes.Equal(got, dek) {
		t.Errorf("FromKeyset KEK: Unwrap(ctx) err = %v, want the same key", err)
	}
}

// TestAssociatedData decrypts a wrapped key with the Tink primitive
// directly, so that a change to the associated data format fails here.
func TestAssociatedData(t *testing.T) {
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	dek := newDEK(t)
	w, err := newKeysetKEK(t, h).Wrap(context.Background(), dek, testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	ad := append([]byte(adDomain), testEC.Bytes()...)
	got, err := primitive(t, h).Decrypt(w.Ciphertext, ad)
	if err != nil {
		t.Fatalf("Decrypt(domain || ec.Bytes()) err = %v", err)
	}
	if !bytes.Equal(got, dek) {
		t.Errorf("Decrypt(domain || ec.Bytes()) returned a different key")
	}
}

// TestFrozenVector unwraps a key wrapped by an earlier build. The keyset
// in testdata is a test-only key, stored in cleartext for this purpose.
func TestFrozenVector(t *testing.T) {
	data, err := os.ReadFile("testdata/aes256gcm-v1.json")
	if err != nil {
		t.Fatalf("ReadFile() err = %v", err)
	}
	var v struct {
		Keyset  json.RawMessage       `json:"keyset"`
		Context kms.EncryptionContext `json:"context"`
		DEK     string                `json:"dek"`
		Version uint32                `json:"version"`
		Wrapped string                `json:"wrapped"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("json.Unmarshal() err = %v", err)
	}
	k := newKeysetKEK(t, readCleartextKeyset(t, v.Keyset))
	ct, _ := hex.DecodeString(v.Wrapped)
	want, _ := hex.DecodeString(v.DEK)

	got, err := k.Unwrap(context.Background(), kms.Wrapped{Version: v.Version, Ciphertext: ct}, v.Context)
	if err != nil {
		t.Fatalf("Unwrap(ctx) err = %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Unwrap(ctx) = %x, want %x", got, want)
	}
}

func TestUnwrapContextMismatch(t *testing.T) {
	ctx := context.Background()
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	k := newKeysetKEK(t, h)
	dek := newDEK(t)
	w, err := k.Wrap(ctx, dek, testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	altered := kms.Wrapped{Version: w.Version, Ciphertext: bytes.Clone(w.Ciphertext)}
	altered.Ciphertext[len(altered.Ciphertext)-1] ^= 1

	tests := []struct {
		name string
		w    kms.Wrapped
		ec   kms.EncryptionContext
	}{
		{"other value", w, kms.EncryptionContext{"topic": "billing", "tenant": "north"}},
		{"extra pair", w, kms.EncryptionContext{"topic": "lab-results", "tenant": "north", "x": "y"}},
		{"missing context", w, nil},
		{"altered ciphertext", altered, testEC},
		{"empty ciphertext", kms.Wrapped{Version: w.Version}, testEC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Unwrap(ctx, tc.w, tc.ec)
			if !errors.Is(err, kms.ErrContextMismatch) {
				t.Fatalf("Unwrap(ctx) err = %v, want ErrContextMismatch", err)
			}
			if !strings.Contains(err.Error(), "context did not match or the wrapped key was altered") {
				t.Errorf("Unwrap(ctx) err = %q, want it to say the context did not match or the key was altered", err)
			}
			var ke *kms.Error
			if !errors.As(err, &ke) {
				t.Fatalf("Unwrap(ctx) err is %T, want *kms.Error", err)
			}
			if ke.Op != kms.OpUnwrap || ke.KEK != "lab-results" || ke.Version != w.Version {
				t.Errorf("Unwrap(ctx) err = {Op %q, KEK %q, Version %d}, want {unwrap, lab-results, %d}", ke.Op, ke.KEK, ke.Version, w.Version)
			}
			if ke.Retryable() {
				t.Errorf("Unwrap(ctx) err is retryable, want permanent")
			}
		})
	}
}

func TestWrapMissingContext(t *testing.T) {
	ctx := context.Background()
	k := newKeysetKEK(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	dek := newDEK(t)
	w, err := k.Wrap(ctx, dek, nil)
	if err != nil {
		t.Fatalf("Wrap(ctx, nil) err = %v", err)
	}
	// A nil and an empty context encode the same.
	if _, err := k.Unwrap(ctx, w, kms.EncryptionContext{}); err != nil {
		t.Errorf("Unwrap(ctx, empty) err = %v, want nil", err)
	}
	if _, err := k.Unwrap(ctx, w, testEC); !errors.Is(err, kms.ErrContextMismatch) {
		t.Errorf("Unwrap(ctx, testEC) err = %v, want ErrContextMismatch", err)
	}
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	k := newKeysetKEK(t, h)
	oldDEK := newDEK(t)
	old, err := k.Wrap(ctx, oldDEK, testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}

	rotated, newID := rotate(t, h, aead.XChaCha20Poly1305KeyTemplate())
	if err := k.SetKeyset(rotated); err != nil {
		t.Fatalf("SetKeyset() err = %v", err)
	}
	if v, err := k.PrimaryVersion(ctx); err != nil || v != newID {
		t.Errorf("PrimaryVersion(ctx) = %d, %v, want %d, nil", v, err, newID)
	}
	w, err := k.Wrap(ctx, newDEK(t), testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) after rotation err = %v", err)
	}
	if w.Version != newID || w.Version == old.Version {
		t.Errorf("Wrap(ctx).Version = %d, want new primary %d (old was %d)", w.Version, newID, old.Version)
	}
	got, err := k.Unwrap(ctx, old, testEC)
	if err != nil {
		t.Fatalf("Unwrap(ctx) of a key wrapped before rotation err = %v", err)
	}
	if !bytes.Equal(got, oldDEK) {
		t.Errorf("Unwrap(ctx) of a key wrapped before rotation returned a different key")
	}
}

func TestUnwrapKeyState(t *testing.T) {
	ctx := context.Background()
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	k := newKeysetKEK(t, h)
	w, err := k.Wrap(ctx, newDEK(t), testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	rotated, _ := rotate(t, h, aead.AES256GCMKeyTemplate())

	tests := []struct {
		name   string
		handle *keyset.Handle
		want   error
	}{
		{"disabled", changeKey(t, rotated, w.Version, (*keyset.Manager).Disable), kms.ErrKeyDisabled},
		{"deleted", changeKey(t, rotated, w.Version, (*keyset.Manager).Delete), kms.ErrKeyNotFound},
		{"destroyed", destroyKey(t, rotated, w.Version), kms.ErrKeyDestroyed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := k.SetKeyset(tc.handle); err != nil {
				t.Fatalf("SetKeyset() err = %v", err)
			}
			_, err := k.Unwrap(ctx, w, testEC)
			if !errors.Is(err, tc.want) {
				t.Errorf("Unwrap(ctx) err = %v, want %v", err, tc.want)
			}
			if errors.Is(err, kms.ErrContextMismatch) {
				t.Errorf("Unwrap(ctx) err = %v, want it not to be ErrContextMismatch", err)
			}
		})
	}

	// Enabling the key again makes the same call succeed.
	if err := k.SetKeyset(rotated); err != nil {
		t.Fatalf("SetKeyset() err = %v", err)
	}
	if _, err := k.Unwrap(ctx, w, testEC); err != nil {
		t.Errorf("Unwrap(ctx) with the key enabled again err = %v, want nil", err)
	}
}

// changeKey returns h after change (Disable or Delete) on key id.
func changeKey(t *testing.T, h *keyset.Handle, id uint32, change func(*keyset.Manager, uint32) error) *keyset.Handle {
	t.Helper()
	m := keyset.NewManagerFromHandle(h)
	if err := change(m, id); err != nil {
		t.Fatalf("change key %d err = %v", id, err)
	}
	return managerHandle(t, m)
}

// destroyKey returns h with key id marked DESTROYED. keyset.Manager has no
// method for it, so the test edits the keyset proto.
func destroyKey(t *testing.T, h *keyset.Handle, id uint32) *keyset.Handle {
	t.Helper()
	ks := insecurecleartextkeyset.KeysetMaterial(h)
	for _, key := range ks.GetKey() {
		if key.GetKeyId() == id {
			key.Status = tinkpb.KeyStatusType_DESTROYED
		}
	}
	return handleFromProto(t, ks)
}

func TestWrapDEKLength(t *testing.T) {
	k := newKeysetKEK(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := k.Wrap(context.Background(), make([]byte, n), testEC)
		if !errors.Is(err, kms.ErrInvalidConfig) {
			t.Errorf("Wrap(ctx, %d bytes) err = %v, want ErrInvalidConfig", n, err)
		}
	}
}

func TestUnwrapLength(t *testing.T) {
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	ad := append([]byte(adDomain), testEC.Bytes()...)
	ct, err := primitive(t, h).Encrypt(make([]byte, 16), ad)
	if err != nil {
		t.Fatalf("Encrypt() err = %v", err)
	}
	k := newKeysetKEK(t, h)
	w := kms.Wrapped{Version: h.KeysetInfo().GetPrimaryKeyId(), Ciphertext: ct}
	if _, err := k.Unwrap(context.Background(), w, testEC); !errors.Is(err, kms.ErrInvalidResponse) {
		t.Errorf("Unwrap(ctx) of a 16-byte key err = %v, want ErrInvalidResponse", err)
	}
}

func TestCanceledContext(t *testing.T) {
	k := newKeysetKEK(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	w, err := k.Wrap(context.Background(), newDEK(t), testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := k.Wrap(ctx, newDEK(t), testEC); !errors.Is(err, kms.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Wrap(canceled ctx) err = %v, want ErrUnavailable and context.Canceled", err)
	}
	if _, err := k.Unwrap(ctx, w, testEC); !errors.Is(err, kms.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Unwrap(canceled ctx) err = %v, want ErrUnavailable and context.Canceled", err)
	}
}

func TestConstructorErrors(t *testing.T) {
	a := primitive(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	tests := []struct {
		name string
		call func() (*tinkkms.KEK, error)
	}{
		{"New nil AEAD", func() (*tinkkms.KEK, error) { return tinkkms.New("k", nil) }},
		{"New empty name", func() (*tinkkms.KEK, error) { return tinkkms.New("", a) }},
		{"New nil option", func() (*tinkkms.KEK, error) { return tinkkms.New("k", a, nil) }},
		{"New keyset option", func() (*tinkkms.KEK, error) {
			return tinkkms.New("k", a, tinkkms.KeysetAssociatedData([]byte("x")))
		}},
		{"FromKeyset nil handle", func() (*tinkkms.KEK, error) { return tinkkms.FromKeyset("k", nil) }},
		{"FromKeyset MAC keyset", func() (*tinkkms.KEK, error) {
			return tinkkms.FromKeyset("k", newHandle(t, mac.HMACSHA256Tag256KeyTemplate()))
		}},
		{"FromKeyset primary id 0", func() (*tinkkms.KEK, error) {
			return tinkkms.FromKeyset("k", zeroPrimaryID(t))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tc.call()
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
			if k != nil {
				t.Errorf("KEK = %v, want nil", k)
			}
		})
	}
}

// handleFromProto returns a handle for the cleartext keyset ks.
func handleFromProto(t *testing.T, ks *tinkpb.Keyset) *keyset.Handle {
	t.Helper()
	data, err := proto.Marshal(ks)
	if err != nil {
		t.Fatalf("proto.Marshal() err = %v", err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewBinaryReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("insecurecleartextkeyset.Read() err = %v", err)
	}
	return h
}

// zeroPrimaryID returns a keyset whose primary key has id 0, which
// keyset.Manager never assigns, by editing the keyset proto.
func zeroPrimaryID(t *testing.T) *keyset.Handle {
	t.Helper()
	ks := insecurecleartextkeyset.KeysetMaterial(newHandle(t, aead.AES256GCMKeyTemplate()))
	ks.PrimaryKeyId = 0
	ks.GetKey()[0].KeyId = 0
	return handleFromProto(t, ks)
}

func TestSetKeysetErrors(t *testing.T) {
	ctx := context.Background()
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	k := newKeysetKEK(t, h)
	if err := k.SetKeyset(nil); !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("SetKeyset(nil) err = %v, want ErrInvalidConfig", err)
	}
	if err := k.SetKeyset(newHandle(t, mac.HMACSHA256Tag256KeyTemplate())); !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("SetKeyset(MAC keyset) err = %v, want ErrInvalidConfig", err)
	}
	want := h.KeysetInfo().GetPrimaryKeyId()
	if v, _ := k.PrimaryVersion(ctx); v != want {
		t.Errorf("PrimaryVersion(ctx) after failed SetKeyset = %d, want unchanged %d", v, want)
	}

	plain, err := tinkkms.New("k", primitive(t, h))
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	if err := plain.SetKeyset(h); !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("SetKeyset() on a KEK from New err = %v, want ErrInvalidConfig", err)
	}
}

func TestName(t *testing.T) {
	k := newKeysetKEK(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	if got := k.Name(); got != "lab-results" {
		t.Errorf("Name() = %q, want %q", got, "lab-results")
	}
}
