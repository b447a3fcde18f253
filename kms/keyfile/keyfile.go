package keyfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/kenvelope/kenvelope/kms"
)

// keySize is the length of every version's key: AES-256.
const keySize = 32

// KEK is a key-encryption key whose versions are AES-256-GCM keys held in
// memory, loaded from a key file or given as bytes. It implements
// kms.Versioned and is safe for concurrent use.
type KEK struct {
	name string
	path string // empty for a KEK from FromBytes

	mu   sync.RWMutex
	keys keyState
}

var _ kms.Versioned = (*KEK)(nil)

// Opt configures Open.
type Opt interface{ apply(*config) }

type config struct {
	create bool
}

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

// CreateMissing sets whether Open creates a missing key file containing
// one new random version. The default is true. Set it to false where a wrong
// path should fail instead of starting a new, empty key history.
func CreateMissing(create bool) Opt {
	return optFunc(func(c *config) { c.create = create })
}

// Open returns the KEK that the key file at path contains, with the logical
// name that descriptors record. name must equal the file's "name" field.
// When the file is missing, Open creates it with mode 0600 and one random
// version, unless CreateMissing(false) is given. Open returns a
// *PermissionError for a file that group or others may access and a
// *FileError for any other unusable file. Both wrap kms.ErrInvalidConfig.
func Open(path, name string, opts ...Opt) (*KEK, error) {
	cfg := config{create: true}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if name == "" {
		return nil, fmt.Errorf("keyfile: KEK name for key file %s is empty: %w", path, kms.ErrInvalidConfig)
	}

	keys, err := readFile(path, name)
	if errors.Is(err, fs.ErrNotExist) && cfg.create {
		keys, err = createFile(path, name)
	}
	if err != nil {
		return nil, err
	}
	return &KEK{name: name, path: path, keys: keys}, nil
}

// FromBytes returns a KEK with the logical name name and one enabled
// version 1 whose key is a copy of key, which must be 32 bytes. The KEK has
// no file, so changes such as Rotate stay in memory.
func FromBytes(name string, key []byte) (*KEK, error) {
	if name == "" {
		return nil, fmt.Errorf("keyfile: KEK name is empty: %w", kms.ErrInvalidConfig)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("keyfile: key for KEK %q is %d bytes, want %d: %w", name, len(key), keySize, kms.ErrInvalidConfig)
	}
	keys := newKeyState(copyKey(key))
	return &KEK{name: name, keys: keys}, nil
}

// Name returns the logical KEK name.
func (k *KEK) Name() string { return k.name }

// Path returns the key file's path, or "" for a KEK from FromBytes.
func (k *KEK) Path() string { return k.path }

// String describes the KEK by name and path, without key bytes.
func (k *KEK) String() string {
	if k.path == "" {
		return fmt.Sprintf("keyfile.KEK(%q, in memory)", k.name)
	}
	return fmt.Sprintf("keyfile.KEK(%q, %s)", k.name, k.path)
}

// GoString returns the same text as String, so %#v prints no key bytes.
func (k *KEK) GoString() string { return k.String() }

// Format writes the text of String for every verb, so no fmt verb prints
// key bytes.
func (k *KEK) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// fail builds the *kms.Error that Wrap and Unwrap return.
func (k *KEK) fail(op kms.Op, v uint32, kind, cause error) *kms.Error {
	return &kms.Error{Op: op, KEK: k.name, Version: v, Kind: kind, Cause: cause}
}
