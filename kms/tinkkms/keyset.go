package tinkkms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/internal/redact"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// maxKeysetSize caps the bytes ReadEncryptedKeyset reads. An encrypted
// keyset of 100 AES-256-GCM keys measured 10,235 bytes in binary and
// 26,787 in JSON with tink-go v2.9.0, so 1 MiB holds about 3,900 keys in
// JSON.
const maxKeysetSize = 1 << 20

// errCleartextKeyset is the cause when a keyset reader is given a keyset
// that is not encrypted.
var errCleartextKeyset = errors.New("keyset is not encrypted: tinkkms reads only keysets encrypted with a KEK AEAD (keyset.Handle.Write), because a cleartext keyset leaves its keys on disk")

// ReadEncryptedKeyset reads an encrypted Tink keyset, in Tink's JSON or
// binary format, decrypts it with kekAEAD and returns FromKeyset(name, h).
// kekAEAD is usually a KMS key's AEAD from a Tink KMS client. When it
// implements tink.AEADWithContext, ctx is passed to it. Cleartext keysets
// are rejected before anything is sent to kekAEAD, and tinkkms has no
// function to read one. All errors wrap kms.ErrInvalidConfig, except that
// a canceled or expired ctx wraps kms.ErrUnavailable.
func ReadEncryptedKeyset(ctx context.Context, name string, r io.Reader, kekAEAD tink.AEAD, opts ...Opt) (*KEK, error) {
	cfg, err := newConfig(opts, true)
	if err != nil {
		return nil, configError(name, err)
	}
	if kekAEAD == nil {
		return nil, configError(name, errors.New("KEK AEAD for the encrypted keyset is nil"))
	}
	data, err := readCapped(r)
	if err != nil {
		return nil, configError(name, err)
	}

	h, err := decryptKeyset(ctx, data, kekAEAD, cfg.keysetAD)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("tinkkms: KEK %q: read encrypted keyset: %w: %w", name, kms.ErrUnavailable, err)
	}
	if err != nil {
		return nil, configError(name, err)
	}
	return fromKeyset(name, h)
}

func readCapped(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, errors.New("keyset reader is nil")
	}
	data, err := io.ReadAll(io.LimitReader(r, maxKeysetSize+1))
	if err != nil {
		return nil, fmt.Errorf("read encrypted keyset: %w", err)
	}
	if len(data) > maxKeysetSize {
		return nil, fmt.Errorf("encrypted keyset is larger than %d bytes", maxKeysetSize)
	}
	return data, nil
}

func decryptKeyset(ctx context.Context, data []byte, kekAEAD tink.AEAD, ad []byte) (*keyset.Handle, error) {
	isJSON := looksLikeJSON(data)
	if isCleartextKeyset(data, isJSON) {
		return nil, errCleartextKeyset
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	reader := encryptedReader{data: data, json: isJSON}
	var (
		h   *keyset.Handle
		err error
	)
	if ca, ok := kekAEAD.(tink.AEADWithContext); ok {
		h, err = keyset.ReadWithContext(ctx, reader, ca, ad)
	} else {
		h, err = keyset.ReadWithAssociatedData(reader, kekAEAD, ad)
	}
	if err != nil {
		err = withContextError(ctx, err)
		return nil, fmt.Errorf("decrypt keyset (wrong KEK AEAD or associated data, or an altered file): %w", err)
	}
	return h, nil
}

// looksLikeJSON reports whether data starts, after white space, with '{'.
// A binary EncryptedKeyset starts with a protobuf tag byte, never '{'.
func looksLikeJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

// tinkTypeURLPrefix starts the type URL of every Tink key type, such as
// type.googleapis.com/google.crypto.tink.AesGcmKey.
const tinkTypeURLPrefix = "type.googleapis.com/"

// isCleartextKeyset reports whether data parses as a cleartext keyset with
// at least one key whose key_data names a Tink type URL. Binary protobuf
// parsing is lenient, so a cleartext binary keyset would otherwise parse as
// an EncryptedKeyset and its key bytes would go to kekAEAD as ciphertext.
// The check is structural and ignores whether the keyset is valid (its
// primary key id, statuses or key values), because an invalid keyset leaks
// its keys just the same. The type URL prefix, 20 fixed bytes, keeps the
// ciphertext inside a real EncryptedKeyset, which may parse as a Key by
// chance, from counting as cleartext.
func isCleartextKeyset(data []byte, isJSON bool) bool {
	ks := new(tinkpb.Keyset)
	var err error
	if isJSON {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, ks)
	} else {
		err = proto.Unmarshal(data, ks)
	}
	if err != nil {
		return false
	}
	for _, key := range ks.GetKey() {
		if strings.HasPrefix(key.GetKeyData().GetTypeUrl(), tinkTypeURLPrefix) {
			return true
		}
	}
	return false
}

// encryptedReader is a keyset.Reader that has no cleartext path: Read
// always fails, and ReadEncrypted rejects an empty ciphertext.
type encryptedReader struct {
	data []byte
	json bool
}

func (r encryptedReader) Read() (*tinkpb.Keyset, error) {
	return nil, errCleartextKeyset
}

func (r encryptedReader) ReadEncrypted() (*tinkpb.EncryptedKeyset, error) {
	var (
		eks *tinkpb.EncryptedKeyset
		err error
	)
	if r.json {
		eks, err = keyset.NewJSONReader(bytes.NewReader(r.data)).ReadEncrypted()
	} else {
		eks, err = keyset.NewBinaryReader(bytes.NewReader(r.data)).ReadEncrypted()
	}
	if err != nil {
		return nil, fmt.Errorf("parse encrypted keyset: %w", err)
	}
	if len(eks.GetEncryptedKeyset()) == 0 {
		return nil, errors.New("encrypted keyset has no ciphertext")
	}
	// This is the last check before Tink hands the ciphertext to kekAEAD.
	// A cleartext binary keyset that fails to parse as a Keyset slips past
	// isCleartextKeyset, but parses here with a serialized Key as the
	// ciphertext, and every Key names its type URL in clear. A real
	// ciphertext contains these 20 bytes with negligible probability.
	if bytes.Contains(eks.GetEncryptedKeyset(), []byte(tinkTypeURLPrefix)) {
		return nil, errCleartextKeyset
	}
	return eks, nil
}

// FromKeyURI returns New(name, a) for the AEAD a that the Tink KMS client
// registered for uri (registry.RegisterKMSClient) returns, such as a
// client for "aws-kms://" or "gcp-kms://" URIs. Wrapped keys carry
// version zero. Tink's key URI schemes are those of kenvelope's native
// backends, so FromKeyURI is not registered with kms.Register; call it
// directly. Errors name the URI's scheme but not the URI, because some
// test KMS URIs embed key material.
func FromKeyURI(ctx context.Context, name, uri string, opts ...Opt) (*KEK, error) {
	if _, err := newConfig(opts, false); err != nil {
		return nil, configError(name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tinkkms: KEK %q: %w: %w", name, kms.ErrUnavailable, err)
	}
	a, err := aeadFromKeyURI(uri)
	if err != nil {
		return nil, configError(name, err)
	}
	return New(name, a)
}

// aeadFromKeyURI looks up uri's AEAD in Tink's KMS client registry.
// Tink's errors quote the URI, so it is replaced in them.
func aeadFromKeyURI(uri string) (tink.AEAD, error) {
	scheme := uriScheme(uri)
	client, err := registry.GetKMSClient(uri)
	if err != nil {
		return nil, fmt.Errorf("no Tink KMS client registered for key URI scheme %s (register one with registry.RegisterKMSClient)", redact.Name(scheme))
	}
	a, err := client.GetAEAD(uri)
	if err != nil {
		return nil, fmt.Errorf("tink KMS client for scheme %s failed to return an AEAD: %s", redact.Name(scheme), withoutSecret(err, uri))
	}
	if a == nil {
		return nil, fmt.Errorf("tink KMS client for scheme %s returned a nil AEAD", redact.Name(scheme))
	}
	return a, nil
}

func uriScheme(uri string) string {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return ""
	}
	return scheme
}

// withoutSecret returns err's message with every copy of secret replaced.
func withoutSecret(err error, secret string) string {
	if secret == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), secret, "<key URI>")
}
