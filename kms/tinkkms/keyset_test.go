package tinkkms_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/testing/fakekms"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// countingAEAD counts Decrypt calls on a real AEAD, so a test can check
// that a rejected keyset never reached the KEK.
type countingAEAD struct {
	tink.AEAD
	decrypts int
}

func (c *countingAEAD) Decrypt(ct, ad []byte) ([]byte, error) {
	c.decrypts++
	return c.AEAD.Decrypt(ct, ad)
}

func writeEncryptedKeyset(t *testing.T, h *keyset.Handle, kek tink.AEAD, json bool, ad []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w keyset.Writer = keyset.NewBinaryWriter(&buf)
	if json {
		w = keyset.NewJSONWriter(&buf)
	}
	if err := h.WriteWithAssociatedData(w, kek, ad); err != nil {
		t.Fatalf("WriteWithAssociatedData() err = %v", err)
	}
	return buf.Bytes()
}

func TestReadEncryptedKeysetRoundTrip(t *testing.T) {
	ctx := context.Background()
	kek := primitive(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	h, _ := rotate(t, newHandle(t, aead.AES256GCMKeyTemplate()), aead.XChaCha20Poly1305KeyTemplate())
	orig := newKeysetKEK(t, h)
	dek := newDEK(t)
	w, err := orig.Wrap(ctx, dek, testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}

	for _, format := range []struct {
		name string
		json bool
	}{{"json", true}, {"binary", false}} {
		t.Run(format.name, func(t *testing.T) {
			data := writeEncryptedKeyset(t, h, kek, format.json, nil)
			k, err := tinkkms.ReadEncryptedKeyset(ctx, "lab-results", bytes.NewReader(data), kek)
			if err != nil {
				t.Fatalf("ReadEncryptedKeyset() err = %v", err)
			}
			if v, _ := k.PrimaryVersion(ctx); v != w.Version {
				t.Errorf("PrimaryVersion(ctx) = %d, want %d", v, w.Version)
			}
			got, err := k.Unwrap(ctx, w, testEC)
			if err != nil || !bytes.Equal(got, dek) {
				t.Errorf("Unwrap(ctx) err = %v, want the key the original KEK wrapped", err)
			}
		})
	}
}

func TestReadEncryptedKeysetAssociatedData(t *testing.T) {
	ctx := context.Background()
	kek := primitive(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	ad := []byte("keyset for lab-results")
	data := writeEncryptedKeyset(t, newHandle(t, aead.AES256GCMKeyTemplate()), kek, true, ad)

	if _, err := tinkkms.ReadEncryptedKeyset(ctx, "k", bytes.NewReader(data), kek, tinkkms.KeysetAssociatedData(ad)); err != nil {
		t.Errorf("ReadEncryptedKeyset(KeysetAssociatedData) err = %v, want nil", err)
	}
	if _, err := tinkkms.ReadEncryptedKeyset(ctx, "k", bytes.NewReader(data), kek); !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("ReadEncryptedKeyset() without associated data err = %v, want ErrInvalidConfig", err)
	}
}

func TestReadEncryptedKeysetRejectsCleartext(t *testing.T) {
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	for _, format := range []struct {
		name string
		json bool
	}{{"json", true}, {"binary", false}} {
		t.Run(format.name, func(t *testing.T) {
			kek := &countingAEAD{AEAD: primitive(t, newHandle(t, aead.AES256GCMKeyTemplate()))}
			data := writeCleartextKeyset(t, h, format.json)

			k, err := tinkkms.ReadEncryptedKeyset(context.Background(), "k", bytes.NewReader(data), kek)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Fatalf("ReadEncryptedKeyset(cleartext) err = %v, want ErrInvalidConfig", err)
			}
			if k != nil {
				t.Errorf("ReadEncryptedKeyset(cleartext) KEK = %v, want nil", k)
			}
			if !strings.Contains(err.Error(), "keyset is not encrypted") {
				t.Errorf("ReadEncryptedKeyset(cleartext) err = %q, want it to say the keyset is not encrypted", err)
			}
			if kek.decrypts != 0 {
				t.Errorf("KEK AEAD Decrypt calls = %d, want 0 for a cleartext keyset", kek.decrypts)
			}
			for _, key := range keyMaterial(t, h) {
				assertNoSecret(t, "ReadEncryptedKeyset(cleartext) err", err.Error(), key)
			}
		})
	}
}

func TestReadEncryptedKeysetErrors(t *testing.T) {
	kek := primitive(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	other := primitive(t, newHandle(t, aead.AES256GCMKeyTemplate()))
	good := writeEncryptedKeyset(t, newHandle(t, aead.AES256GCMKeyTemplate()), kek, false, nil)
	altered := bytes.Clone(good)
	altered[len(altered)/2] ^= 1

	tests := []struct {
		name string
		r    io.Reader
		kek  tink.AEAD
	}{
		{"wrong KEK", bytes.NewReader(good), other},
		{"altered", bytes.NewReader(altered), kek},
		{"empty input", bytes.NewReader(nil), kek},
		{"empty JSON", strings.NewReader("{}"), kek},
		{"not a keyset", strings.NewReader("{\"hello\": 1}"), kek},
		{"too large", bytes.NewReader(make([]byte, 1<<20+1)), kek},
		{"nil reader", nil, kek},
		{"nil KEK", bytes.NewReader(good), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tinkkms.ReadEncryptedKeyset(context.Background(), "k", tc.r, tc.kek)
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("ReadEncryptedKeyset() err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestReadEncryptedKeysetCanceled(t *testing.T) {
	uri, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatalf("fakekms.NewKeyURI() err = %v", err)
	}
	ctxKEK, err := fakekms.NewAEADWithContext(uri)
	if err != nil {
		t.Fatalf("fakekms.NewAEADWithContext() err = %v", err)
	}
	plainKEK, err := fakekms.NewAEAD(uri)
	if err != nil {
		t.Fatalf("fakekms.NewAEAD() err = %v", err)
	}
	data := writeEncryptedKeyset(t, newHandle(t, aead.AES256GCMKeyTemplate()), plainKEK, true, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	// bothKEK is a fake KMS AEAD that also has the context methods, as
	// remote AEADs do.
	bothKEK := struct {
		tink.AEAD
		tink.AEADWithContext
	}{plainKEK, ctxKEK}
	for name, kek := range map[string]tink.AEAD{"with context": bothKEK, "plain": plainKEK} {
		_, err := tinkkms.ReadEncryptedKeyset(ctx, "k", bytes.NewReader(data), kek)
		if !errors.Is(err, kms.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s KEK: ReadEncryptedKeyset(canceled ctx) err = %v, want ErrUnavailable and context.Canceled", name, err)
		}
	}
}

func TestFromKeyURI(t *testing.T) {
	ctx := context.Background()
	uri, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatalf("fakekms.NewKeyURI() err = %v", err)
	}
	k, err := tinkkms.FromKeyURI(ctx, "remote", uri)
	if err != nil {
		t.Fatalf("FromKeyURI() err = %v", err)
	}
	if k.Name() != "remote" {
		t.Errorf("Name() = %q, want %q", k.Name(), "remote")
	}
	dek := newDEK(t)
	w, err := k.Wrap(ctx, dek, testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	if w.Version != 0 {
		t.Errorf("Wrap(ctx).Version = %d, want 0 for a KMS key URI", w.Version)
	}
	got, err := k.Unwrap(ctx, w, testEC)
	if err != nil || !bytes.Equal(got, dek) {
		t.Errorf("Unwrap(ctx) err = %v, want the wrapped key", err)
	}
	if _, err := k.Unwrap(ctx, w, nil); !errors.Is(err, kms.ErrContextMismatch) {
		t.Errorf("Unwrap(ctx, nil) err = %v, want ErrContextMismatch", err)
	}
}

func TestFromKeyURIErrors(t *testing.T) {
	uri, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatalf("fakekms.NewKeyURI() err = %v", err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		ctx  context.Context
		uri  string
		want error
	}{
		{"no client", context.Background(), "other-kms://" + strings.TrimPrefix(uri, fakeKMSPrefix), kms.ErrInvalidConfig},
		{"bad key", context.Background(), uri + "!!", kms.ErrInvalidConfig},
		{"option", context.Background(), uri, kms.ErrInvalidConfig},
		{"canceled", canceled, uri, kms.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []tinkkms.Opt
			if tc.name == "option" {
				opts = append(opts, tinkkms.KeysetAssociatedData(nil))
			}
			_, err := tinkkms.FromKeyURI(tc.ctx, "remote", tc.uri, opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("FromKeyURI() err = %v, want %v", err, tc.want)
			}
			// A fake KMS URI embeds its key, so errors must not quote it.
			key := strings.TrimPrefix(uri, fakeKMSPrefix)
			if strings.Contains(err.Error(), key) {
				t.Errorf("FromKeyURI() err = %q, want it not to contain the key URI", err)
			}
		})
	}
}
