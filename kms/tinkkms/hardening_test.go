package tinkkms_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// recordingAEAD records every ciphertext given to Decrypt and fails. It is
// a test double so the test can see what ReadEncryptedKeyset sends to the
// KEK AEAD, which a real KMS would not report.
type recordingAEAD struct {
	mu   sync.Mutex
	seen [][]byte
}

func (r *recordingAEAD) Encrypt(pt, ad []byte) ([]byte, error) { return nil, os.ErrInvalid }

func (r *recordingAEAD) Decrypt(ct, ad []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, bytes.Clone(ct))
	return nil, os.ErrInvalid
}

// TestInvalidCleartextKeysetRejected checks that a cleartext keyset is
// rejected before any byte reaches the KEK AEAD, even when it is not a
// valid keyset. The cases are a primary key id that names no key, no
// primary at all, and a type URL that is not valid UTF-8, so that the data
// does not parse as a Keyset.
func TestInvalidCleartextKeysetRejected(t *testing.T) {
	h := newHandle(t, aead.AES256GCMKeyTemplate())
	secret := keyMaterial(t, h)[0]
	marshal := func(change func(*tinkpb.Keyset), json bool) []byte {
		ks := proto.Clone(insecurecleartextkeyset.KeysetMaterial(h)).(*tinkpb.Keyset)
		change(ks)
		var data []byte
		var err error
		if json {
			data, err = protojson.Marshal(ks)
		} else {
			data, err = proto.Marshal(ks)
		}
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	unknownPrimary := func(ks *tinkpb.Keyset) { ks.PrimaryKeyId++ }
	noPrimary := func(ks *tinkpb.Keyset) { ks.PrimaryKeyId = 0 }
	// The same number of bytes keeps every length prefix valid.
	badUTF8 := bytes.Replace(marshal(noPrimary, false), []byte("AesGcmKey"), []byte("AesGcmKe\xff"), 1)

	tests := []struct {
		name string
		data []byte
	}{
		{"binary unknown primary", marshal(unknownPrimary, false)},
		{"binary no primary", marshal(noPrimary, false)},
		{"binary invalid UTF-8 type URL", badUTF8},
		{"JSON unknown primary", marshal(unknownPrimary, true)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingAEAD{}
			_, err := tinkkms.ReadEncryptedKeyset(context.Background(), "lab-results", bytes.NewReader(tc.data), rec)
			if err == nil || !strings.Contains(err.Error(), "keyset is not encrypted") {
				t.Errorf("ReadEncryptedKeyset(cleartext) err = %v, want it to say the keyset is not encrypted", err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.seen) != 0 {
				t.Errorf("KEK AEAD Decrypt calls = %d, want 0 for a cleartext keyset", len(rec.seen))
			}
			for _, ct := range rec.seen {
				if bytes.Contains(ct, secret) {
					t.Error("ReadEncryptedKeyset sent the cleartext key bytes to the KEK AEAD")
				}
			}
		})
	}
}

// TestKeysetURIFragment checks that a tink-keyset URI with a fragment is
// rejected, as keyfile:// rejects one.
func TestKeysetURIFragment(t *testing.T) {
	path, kekURI := writeKeysetFile(t)
	for _, fragment := range []string{"#ignored", "#"} {
		uri := "tink-keyset://" + path + "?kek-uri=" + url.QueryEscape(kekURI) + fragment
		if _, err := kms.Open(context.Background(), "lab-results", uri); err == nil {
			t.Errorf("kms.Open(tink-keyset URI ending in %q) err = nil, want an error for the fragment", fragment)
		}
	}
}

// TestKeysetURIErrorsHideSecrets feeds the key material of a fake-kms
// kek-uri and a password through rejected tink-keyset URIs and checks
// that no error contains either.
func TestKeysetURIErrorsHideSecrets(t *testing.T) {
	const password = "URITESTPASSWORD"
	path, kekURI := writeKeysetFile(t)
	material := strings.TrimPrefix(kekURI, fakeKMSPrefix)
	kek := "?kek-uri=" + url.QueryEscape(kekURI)
	tests := []struct{ name, uri string }{
		{"no scheme", "tink-keyset:" + path + kek},
		{"user info", "tink-keyset://admin:" + password + "@" + path + kek},
		{"unknown parameter value", "tink-keyset://" + path + kek + "&password=" + password},
		{"unknown parameter name", "tink-keyset://" + path + kek + "&" + password},
		{"fragment", "tink-keyset://" + path + kek + "#" + password},
		{"bad escape", "tink-keyset://" + path + "/" + password + "%zz" + kek},
		{"host", "tink-keyset://" + password + path + kek},
		{"kek-uri scheme", "tink-keyset://" + path + "?kek-uri=" + url.QueryEscape("other-kms://"+material)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kms.Open(context.Background(), "lab-results", tc.uri)
			if err == nil {
				t.Fatal("kms.Open err = nil, want an error")
			}
			msg := err.Error()
			if strings.Contains(msg, password) {
				t.Errorf("kms.Open err = %q, contains the password from the URI", msg)
			}
			if strings.Contains(msg, material) || strings.Contains(msg, url.QueryEscape(material)) {
				t.Errorf("kms.Open err contains the key material of the kek-uri: %.160s...", msg)
			}
		})
	}
}
