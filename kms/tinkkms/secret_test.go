package tinkkms_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// assertNoSecret fails when text contains secret raw, in hex or in base64.
func assertNoSecret(t *testing.T, source, text string, secret []byte) {
	t.Helper()
	for _, form := range []string{
		string(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		fmt.Sprint(secret),
	} {
		if strings.Contains(text, form) {
			t.Errorf("%s contains key material: %q", source, text)
			return
		}
	}
}

func TestFormatHidesKey(t *testing.T) {
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	keyed := newKeysetKEK(t, h)
	plain, err := tinkkms.New("plain", primitive(t, h))
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	keys := keyMaterial(t, h)

	for _, k := range []*tinkkms.KEK{keyed, plain} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			out := fmt.Sprintf(verb, k)
			for _, key := range keys {
				assertNoSecret(t, "Sprintf("+verb+")", out, key)
			}
			if !strings.Contains(out, k.Name()) {
				t.Errorf("Sprintf(%s) = %q, want it to name the KEK", verb, out)
			}
		}
	}
	if got, want := keyed.String(), fmt.Sprintf(`tinkkms.KEK("lab-results", primary key id %d)`, h.KeysetInfo().GetPrimaryKeyId()); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestErrorsHideSecrets sends a data key and the keyset's keys through
// every Wrap and Unwrap error path and checks that no message contains
// them.
func TestErrorsHideSecrets(t *testing.T) {
	ctx := context.Background()
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	k := newKeysetKEK(t, h)
	dek := newDEK(t)
	w, err := k.Wrap(ctx, dek, testEC)
	if err != nil {
		t.Fatalf("Wrap(ctx) err = %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()

	var errs []error
	_, err = k.Wrap(ctx, append(dek, 0), testEC)
	errs = append(errs, err)
	_, err = k.Wrap(canceled, dek, testEC)
	errs = append(errs, err)
	_, err = k.Unwrap(ctx, w, kms.EncryptionContext{"topic": "other"})
	errs = append(errs, err)
	_, err = k.Unwrap(canceled, w, testEC)
	errs = append(errs, err)
	rotated, _ := rotate(t, h, aead.AES256GCMKeyTemplate())
	if err := k.SetKeyset(changeKey(t, rotated, w.Version, (*keyset.Manager).Disable)); err != nil {
		t.Fatalf("SetKeyset() err = %v", err)
	}
	_, err = k.Unwrap(ctx, w, testEC)
	errs = append(errs, err)

	secrets := append(keyMaterial(t, rotated), dek)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("error path %d returned nil", i)
		}
		for _, s := range secrets {
			assertNoSecret(t, fmt.Sprintf("error path %d", i), err.Error(), s)
		}
	}
}
