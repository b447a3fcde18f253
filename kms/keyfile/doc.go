// Package keyfile provides a kms.KEK whose versions are AES-256-GCM keys
// kept in a local key file or given as bytes.
//
// Use it for development and tests only. The key sits on the same disk and
// in the same memory as the process that uses it, so anyone who can read
// that disk, a backup of it or the process can unwrap every data key. No
// HSM protects the key, no access control applies beyond file permissions,
// and no audit log records who unwrapped what. Destroy removes a version's
// key from the file, but the blocks of the old file may survive on disk
// and Go may keep copies of the key in memory, so destroying a version here
// is not a secure erase. Production deployments use kms/awskms, kms/gcpkms,
// kms/vaulttransit or kms/tinkkms.
//
// # Key file
//
// A key file is a JSON object such as:
//
//	{
//	  "format": 1,
//	  "name": "lab-results",
//	  "primary": 3,
//	  "min_version": 2,
//	  "versions": [
//	    {"version": 1, "state": "destroyed"},
//	    {"version": 2, "state": "disabled", "key": "<standard base64 of 32 bytes>"},
//	    {"version": 3, "state": "enabled", "key": "<standard base64 of 32 bytes>"}
//	  ]
//	}
//
// Open accepts a file only when format is 1, name equals the name given to
// Open, every version number is unique and at least 1, and state is
// "enabled", "disabled" or "destroyed". Enabled and disabled versions must
// have a key of exactly 32 bytes, and destroyed ones must have none.
// primary must name a listed version, and min_version must lie between 1
// and primary. Unknown fields, trailing data and files over 1 MiB are
// rejected. Errors name the path and, where one version is at fault, its
// number, but never key bytes. Of the text in the file they quote only short
// lowercase values, such as a state or KEK name, and no unknown field name,
// because a key pasted into the wrong place would otherwise appear in logs.
//
// The file must be a regular file, or a symbolic link to one as Kubernetes
// mounts secrets, whose mode grants no permission to group or others, such
// as 0600 or 0400. Open returns a *FileError for a FIFO, device or
// directory without opening it for a blocking read, so a FIFO at the path
// cannot hang the caller. For a file that group or others may access, Open
// returns a *PermissionError. When
// the file is missing, Open creates it with mode 0600 and O_EXCL, containing
// one random version 1. The parent directory must already exist. Two
// processes that open a missing file at the same moment may see it half
// written and fail. Opening it again succeeds.
//
// # Versions
//
// Rotate, Disable, Enable, Destroy and SetMinVersion change the KEK in
// memory and write the whole file again atomically: a temporary file with
// mode 0600 in the same directory, fsync, rename over the key file, fsync of
// the directory. A symbolic link at the path is replaced by a regular file.
// The KEK reads the file only in Open and Reload, so changes that another
// process makes are not seen until Reload. Nothing locks the file, so two
// processes that change the same file overwrite each other's changes. A KEK
// from FromBytes has no file and keeps its changes in memory.
//
// Disabling or destroying the primary version is allowed, as in a cloud
// KMS: Wrap then fails with kms.ErrKeyDisabled or kms.ErrKeyDestroyed
// until Enable or Rotate provides an enabled primary version again.
//
// # Wrapped key format
//
// Wrap returns Ciphertext = 0x01 (the format) || 12-byte random nonce ||
// AES-256-GCM ciphertext || 16-byte tag, under the primary version. The
// associated data is the domain string "kenvelope/keyfile/wrap", the format
// byte, the KEK version as a 32-bit big-endian integer and
// kms.EncryptionContext.Bytes, so a wrapped key opens only under the same
// version and an equal context. NIST SP 800-38D caps one key at 2^32
// random nonces. Each Wrap uses one, so rotate long before a version has
// wrapped that many data keys.
//
// GCM cannot tell a wrong context from an altered ciphertext, so Unwrap
// reports both as kms.ErrContextMismatch with ErrAuthFailed as the cause.
// A wrapped key with the wrong length or format byte is reported the same
// way, with ErrMalformedWrappedKey as the cause, because it too is a
// permanent fault in the record's metadata.
//
// # Key URI
//
// Importing this package registers the scheme "keyfile" with kms.Register.
// The URI keyfile:///var/lib/app/lab-results.json opens that file as Open
// does with default options, creating it when missing. Only absolute paths
// are accepted, because a relative path would depend on the working
// directory of whichever process opens it. A host, user information, query
// or fragment is rejected, and the error does not quote the URI.
package keyfile
