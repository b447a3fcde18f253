package tinkkms_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/tinkkms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/testing/fakekms"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// adDomain repeats the package's associated-data prefix, so that a change
// to it, which would make every stored wrapped key unreadable, fails here.
const adDomain = "kenvelope/kms/tinkkms/wrap/v1\x00"

// fakeKMSPrefix is the URI prefix of Tink's in-process fake KMS, whose key
// URIs embed the key itself.
const fakeKMSPrefix = "fake-kms://"

func TestMain(m *testing.M) {
	client, err := fakekms.NewClient(fakeKMSPrefix)
	if err != nil {
		panic(err)
	}
	registry.RegisterKMSClient(client)
	os.Exit(m.Run())
}

var testEC = kms.EncryptionContext{"topic": "lab-results", "tenant": "north"}

func newHandle(t *testing.T, tmpl *tinkpb.KeyTemplate) *keyset.Handle {
	t.Helper()
	h, err := keyset.NewHandle(tmpl)
	if err != nil {
		t.Fatalf("keyset.NewHandle() err = %v", err)
	}
	return h
}

func newKeysetKEK(t *testing.T, h *keyset.Handle) *tinkkms.KEK {
	t.Helper()
	k, err := tinkkms.FromKeyset("lab-results", h)
	if err != nil {
		t.Fatalf("FromKeyset() err = %v", err)
	}
	return k
}

func primitive(t *testing.T, h *keyset.Handle) tink.AEAD {
	t.Helper()
	a, err := aead.New(h)
	if err != nil {
		t.Fatalf("aead.New() err = %v", err)
	}
	return a
}

func newDEK(t *testing.T) []byte {
	t.Helper()
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		t.Fatalf("rand.Read() err = %v", err)
	}
	return dek
}

// rotate adds a key of tmpl to h, makes it primary and returns the new
// handle and key id.
func rotate(t *testing.T, h *keyset.Handle, tmpl *tinkpb.KeyTemplate) (*keyset.Handle, uint32) {
	t.Helper()
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(tmpl)
	if err != nil {
		t.Fatalf("Manager.Add() err = %v", err)
	}
	if err := m.SetPrimary(id); err != nil {
		t.Fatalf("Manager.SetPrimary() err = %v", err)
	}
	return managerHandle(t, m), id
}

func managerHandle(t *testing.T, m *keyset.Manager) *keyset.Handle {
	t.Helper()
	h, err := m.Handle()
	if err != nil {
		t.Fatalf("Manager.Handle() err = %v", err)
	}
	return h
}

// writeCleartextKeyset serializes h without encryption. Only tests do
// this; the package has no way to read the result.
func writeCleartextKeyset(t *testing.T, h *keyset.Handle, json bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w keyset.Writer = keyset.NewBinaryWriter(&buf)
	if json {
		w = keyset.NewJSONWriter(&buf)
	}
	if err := insecurecleartextkeyset.Write(h, w); err != nil {
		t.Fatalf("insecurecleartextkeyset.Write() err = %v", err)
	}
	return buf.Bytes()
}

// readCleartextKeyset parses a cleartext JSON keyset, such as a frozen
// test vector. It exists only in tests.
func readCleartextKeyset(t *testing.T, data []byte) *keyset.Handle {
	t.Helper()
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("insecurecleartextkeyset.Read() err = %v", err)
	}
	return h
}

// keyMaterial returns the raw 32-byte key of every AES-GCM key in h. An
// AesGcmKey serializes its key_value (field 3, tag 0x1a) last, after the
// version, so the key is the last 32 bytes of KeyData.Value.
func keyMaterial(t *testing.T, h *keyset.Handle) [][]byte {
	t.Helper()
	var keys [][]byte
	for _, k := range insecurecleartextkeyset.KeysetMaterial(h).GetKey() {
		v := k.GetKeyData().GetValue()
		if len(v) < 34 || v[len(v)-34] != 0x1a || v[len(v)-33] != 32 {
			t.Fatalf("key %d: KeyData.Value does not end with a 32-byte key_value field", k.GetKeyId())
		}
		keys = append(keys, v[len(v)-32:])
	}
	return keys
}
