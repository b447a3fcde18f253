package keyfile

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/kenvelope/kenvelope/kms"
)

var (
	// ErrAuthFailed is the Cause, inside a *kms.Error of kind
	// kms.ErrContextMismatch, when Unwrap's AES-GCM tag check fails. GCM
	// cannot tell a wrong encryption context from an altered wrapped key.
	ErrAuthFailed = errors.New("keyfile: message authentication failed: encryption context does not match or wrapped key altered")

	// ErrMalformedWrappedKey is the Cause, inside a *kms.Error of kind
	// kms.ErrContextMismatch, when Unwrap gets a wrapped key with the wrong
	// length or an unknown format byte.
	ErrMalformedWrappedKey = errors.New("keyfile: wrapped key is malformed")
)

// FileError reports a key file that Open, Reload or a change such as
// Rotate cannot use: unreadable, malformed, or containing a key of the wrong
// length. It wraps Err and kms.ErrInvalidConfig. Its message never
// contains the bytes of a key.
type FileError struct {
	Path    string
	Version uint32 // version at fault, zero when the fault is not in one version
	Err     error
}

// Error returns a one-line message naming the path and, if set, the
// version.
func (e *FileError) Error() string {
	if e.Version != 0 {
		return fmt.Sprintf("keyfile: key file %s, version %d: %v", e.Path, e.Version, e.Err)
	}
	return fmt.Sprintf("keyfile: key file %s: %v", e.Path, e.Err)
}

// Unwrap returns Err and kms.ErrInvalidConfig, so errors.Is matches both.
func (e *FileError) Unwrap() []error { return []error{e.Err, kms.ErrInvalidConfig} }

// PermissionError reports a key file whose mode grants a permission to
// group or others. It wraps kms.ErrInvalidConfig.
type PermissionError struct {
	Path string
	Mode fs.FileMode // permission bits of the file
}

// Error returns a one-line message naming the path and mode, and the
// command that fixes it.
func (e *PermissionError) Error() string {
	return fmt.Sprintf("keyfile: key file %s has mode %04o, which grants access to group or others; run chmod 600 %s",
		e.Path, uint32(e.Mode.Perm()), e.Path)
}

// Unwrap returns kms.ErrInvalidConfig.
func (e *PermissionError) Unwrap() error { return kms.ErrInvalidConfig }
