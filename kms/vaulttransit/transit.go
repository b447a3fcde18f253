package vaulttransit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/kenvelope/kenvelope/kms"
)

// dekSize is the length in bytes of the data keys that kenvelope wraps.
const dekSize = 32

// keyNamePattern is the pattern that Vault's transit engine accepts for a
// key name (framework.GenericNameRegex in Vault 1.21).
var keyNamePattern = regexp.MustCompile(`^\w([\w.-]*\w)?$`)

// mountSegmentPattern restricts each segment of a mount path, so that no
// name can change which Vault path a request reaches.
var mountSegmentPattern = regexp.MustCompile(`^[\w.-]+$`)

// KEK is a key of the Vault transit engine. It implements kms.Versioned and
// is safe for concurrent use.
type KEK struct {
	client  *api.Client
	name    string // logical KEK name
	keyName string // transit key name
	mount   string // mount path without slashes at either end
}

var _ kms.Versioned = (*KEK)(nil)

// Opt configures New.
type Opt interface {
	apply(*KEK)
}

type optFunc func(*KEK)

func (f optFunc) apply(k *KEK) { f(k) }

// MountPath sets the path where the transit engine is mounted, such as
// "transit" or "team-a/transit". The default is "transit".
func MountPath(path string) Opt {
	return optFunc(func(k *KEK) { k.mount = strings.Trim(path, "/") })
}

// New returns the KEK with logical name that uses the transit key keyName
// through client. It reads the key once and returns kms.ErrKeyNotFound if
// it does not exist, and kms.ErrInvalidConfig if its type cannot bind
// associated data or it is a derived key (see the package documentation).
func New(ctx context.Context, client *api.Client, name, keyName string, opts ...Opt) (*KEK, error) {
	k := &KEK{client: client, name: name, keyName: keyName, mount: "transit"}
	for _, o := range opts {
		o.apply(k)
	}
	if err := k.validate(); err != nil {
		return nil, k.fail(opOpen, 0, kms.ErrInvalidConfig, err)
	}

	info, err := k.readKey(ctx)
	if err != nil {
		return nil, k.classify(opOpen, 0, err, kms.ErrKeyNotFound)
	}
	if err := info.check(); err != nil {
		return nil, k.fail(opOpen, 0, kms.ErrInvalidConfig, fmt.Errorf("transit key %q: %w", keyName, err))
	}
	return k, nil
}

func (k *KEK) validate() error {
	switch {
	case k.client == nil:
		return errors.New("vault client is nil")
	case k.name == "":
		return errors.New("logical KEK name is empty")
	case !keyNamePattern.MatchString(k.keyName):
		return fmt.Errorf("transit key name %q is invalid, want letters, digits, '_', '-' or '.'", k.keyName)
	}
	if !validMount(k.mount) {
		return fmt.Errorf("mount path %q is invalid, want segments of letters, digits, '_', '-' or '.'", k.mount)
	}
	return nil
}

// validMount reports whether every segment of mount matches
// mountSegmentPattern and none is "." or "..".
func validMount(mount string) bool {
	for _, seg := range strings.Split(mount, "/") {
		if !mountSegmentPattern.MatchString(seg) || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// Name returns the logical KEK name.
func (k *KEK) Name() string { return k.name }

// Wrap encrypts dek, which must be 32 bytes, under the latest version of
// the transit key, with ec.Bytes() as associated data.
func (k *KEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if len(dek) != dekSize {
		return kms.Wrapped{}, fmt.Errorf("vaulttransit: wrap with KEK %q: data key is %d bytes, want %d", k.name, len(dek), dekSize)
	}

	// NOTE: the base64 copy of dek in body, and the JSON request that the
	// Vault client builds from it, cannot be cleared here. They stay on the
	// heap until the garbage collector reuses that memory.
	body := map[string]any{"plaintext": base64.StdEncoding.EncodeToString(dek)}
	addAssociatedData(body, ec)
	secret, err := k.client.Logical().WriteWithContext(ctx, k.path("encrypt"), body)
	if err != nil {
		return kms.Wrapped{}, k.classify(kms.OpWrap, 0, err, kms.ErrKeyDestroyed)
	}
	if secret == nil {
		return kms.Wrapped{}, k.fail(kms.OpWrap, 0, kms.ErrKeyDestroyed, errEmptyNotFound)
	}

	ct, version, err := parseEncryptResponse(secret.Data)
	if err != nil {
		return kms.Wrapped{}, k.fail(kms.OpWrap, 0, kms.ErrInvalidResponse, err)
	}
	return kms.Wrapped{Version: version, Ciphertext: []byte(ct)}, nil
}

// Unwrap decrypts w with ec.Bytes() as associated data and returns the
// 32-byte data key.
func (k *KEK) Unwrap(ctx context.Context, w kms.Wrapped, ec kms.EncryptionContext) ([]byte, error) {
	version, err := parseCiphertextVersion(string(w.Ciphertext))
	if err != nil {
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrContextMismatch, fmt.Errorf("wrapped key: %w", err))
	}
	if version != w.Version {
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrContextMismatch,
			fmt.Errorf("wrapped key names version %d but the record names version %d", version, w.Version))
	}

	body := map[string]any{"ciphertext": string(w.Ciphertext)}
	addAssociatedData(body, ec)
	secret, err := k.client.Logical().WriteWithContext(ctx, k.path("decrypt"), body)
	if err != nil {
		return nil, k.unwrapError(ctx, w.Version, err)
	}
	if secret == nil {
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrKeyDestroyed, errEmptyNotFound)
	}

	dek, err := parseDecryptResponse(secret.Data)
	if err != nil {
		return nil, k.fail(kms.OpUnwrap, w.Version, kms.ErrInvalidResponse, err)
	}
	return dek, nil
}

// unwrapError classifies a failed decrypt request. For kms.ErrVersionTooOld
// it reads the key: a version below min_available_version was trimmed, so
// its key material is gone and the kind becomes kms.ErrKeyDestroyed;
// otherwise MinVersion is set to min_decryption_version.
func (k *KEK) unwrapError(ctx context.Context, version uint32, err error) error {
	e := k.classify(kms.OpUnwrap, version, err, kms.ErrKeyDestroyed)
	if e.Kind != kms.ErrVersionTooOld {
		return e
	}
	// A failed read leaves the kind as it is and MinVersion at zero, and
	// the error still names the version the record needs.
	info, readErr := k.readKey(ctx)
	switch {
	case readErr != nil:
	case version < info.minAvailableVersion:
		e.Kind = kms.ErrKeyDestroyed
		e.Cause = fmt.Errorf("version %d was trimmed, because min_available_version is %d, so Vault no longer has its key material: %w",
			version, info.minAvailableVersion, e.Cause)
	default:
		e.MinVersion = info.minDecryptionVersion
	}
	return e
}

// PrimaryVersion reads the key's latest_version from Vault on every call,
// which is the version Wrap uses.
func (k *KEK) PrimaryVersion(ctx context.Context) (uint32, error) {
	info, err := k.readKey(ctx)
	if err != nil {
		return 0, k.classify(kms.OpVersion, 0, err, kms.ErrKeyDestroyed)
	}
	return info.latestVersion, nil
}

func (k *KEK) path(op string) string {
	return k.mount + "/" + op + "/" + k.keyName
}

// addAssociatedData sets associated_data in a transit request body. An
// empty context sends none, which Vault treats as empty associated data.
func addAssociatedData(body map[string]any, ec kms.EncryptionContext) {
	if ad := ec.Bytes(); len(ad) > 0 {
		body["associated_data"] = base64.StdEncoding.EncodeToString(ad)
	}
}
