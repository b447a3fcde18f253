package keyring

import (
	"errors"
	"fmt"
)

var (
	// ErrShredded is wrapped by *ShreddedError.
	ErrShredded = errors.New("keyring: key shredded")

	// ErrQuarantined is returned by SealSubject for a subject that is
	// quarantined, for example while it is being purged.
	ErrQuarantined = errors.New("keyring: subject is quarantined: producing for it is stopped")

	// ErrNoKeyStore is returned by subject-key methods of a Ring built
	// without WithKeyStore.
	ErrNoKeyStore = errors.New("keyring: no key store configured; set WithKeyStore to use subject keys")

	// ErrNoSubject is returned by SealSubject and Shred for an empty
	// subject identifier.
	ErrNoSubject = errors.New("keyring: empty subject identifier")
)

// ShreddedError reports a subject-scope record whose DEK the key store no
// longer holds: the subject was shredded. The key store cannot tell a
// shredded DEK from an id it never held, so a forged id is reported the
// same way.
type ShreddedError struct {
	// DEKID is the record's DEK id in hexadecimal.
	DEKID string
}

func (e *ShreddedError) Error() string {
	return fmt.Sprintf("keyring: key shredded: subject DEK %s is no longer in the key store", e.DEKID)
}

// Unwrap returns ErrShredded.
func (e *ShreddedError) Unwrap() error { return ErrShredded }
