package keyring

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
)

// DEKID is the random 16-byte id of a stored DEK. Subject-scope
// descriptors carry it in place of an EDEK.
type DEKID [envelope.DEKIDLen]byte

// String returns the id in hexadecimal.
func (id DEKID) String() string { return hex.EncodeToString(id[:]) }

// Token is a subject token: HMAC-SHA-256 of a subject identifier under
// the store's token key. It stands for the subject in the key store, so
// the identifier itself, which is PHI, is never stored.
type Token [32]byte

// String returns the token in hexadecimal.
func (t Token) String() string { return hex.EncodeToString(t[:]) }

// EntryKind is the type of key a stored entry contains.
type EntryKind uint8

const (
	// KindSubjectDEK is a subject's DEK.
	KindSubjectDEK EntryKind = 1
	// KindTokenKey is the HMAC key that turns subject identifiers into
	// tokens. Its Token is the zero Token.
	KindTokenKey EntryKind = 2
)

// Entry is one wrapped key in a KeyStore. A store never holds a plaintext
// key: EDEK is wrapped by the KEK that KEKName names.
type Entry struct {
	ID         DEKID
	Kind       EntryKind
	Token      Token // zero for KindTokenKey
	KEKName    string
	KEKVersion uint32
	EDEK       []byte
	// Generation numbers the successive DEKs of one subject and KEK,
	// from 1. A DEK is replaced when it reaches a limit.
	Generation uint32
	// Created is when the key was generated; Wrapped when EDEK was last
	// written, which Rewrap changes. A KeyStore keeps both to the
	// nanosecond: resuming a Rewrap compares Wrapped with its start.
	Created time.Time
	Wrapped time.Time
	// Seq orders entries by their first write: the store assigns it, and
	// a rewrapped entry keeps it. Of two entries for the same slot
	// (kind, token, KEK, generation), the one with the lower Seq wins.
	Seq int64
}

// ChangeKind is the type of a change in a KeyStore.
type ChangeKind uint8

const (
	// ChangeCreated: an entry was created or rewrapped.
	ChangeCreated ChangeKind = 1
	// ChangeDeleted: an entry was deleted (shredded).
	ChangeDeleted ChangeKind = 2
	// ChangeQuarantined: a token was quarantined or released.
	ChangeQuarantined ChangeKind = 3
)

// Change is a notification from a KeyStore to its subscribers.
type Change struct {
	Kind  ChangeKind
	ID    DEKID // for ChangeCreated and ChangeDeleted
	Token Token
}

// KeyStore holds wrapped subject DEKs and the token key, shared by every
// process that seals or opens subject-scope records. Implementations are
// safe for concurrent use. MemoryStore serves tests and single processes;
// keyring/kafkastore keeps the entries in a compacted Kafka topic.
//
// Reads come from the store's local view. A store whose view may be out
// of date by more than its bound returns ErrStoreStale, so a process that
// cannot learn about a shred stops using subject keys instead of using
// them for longer than the bound.
type KeyStore interface {
	// Create stores e, which must have a fresh random ID. The store sets
	// Seq. Create returns only once Lookup and Entries in this process see
	// the entry, so the caller can then find the slot's winner.
	Create(ctx context.Context, e Entry) (Entry, error)

	// Lookup returns the live entry with id. It returns ErrNotFound when
	// the store holds no such entry: it was deleted, or never existed.
	Lookup(ctx context.Context, id DEKID) (Entry, error)

	// Entries returns the live entries of token in Seq order. The zero
	// Token returns the token-key entries.
	Entries(ctx context.Context, token Token) ([]Entry, error)

	// Range calls fn for every live entry until fn returns false.
	Range(ctx context.Context, fn func(Entry) bool) error

	// Update replaces the KEK version, EDEK and Wrapped time of the live
	// entry with e.ID, keeping its Seq. It returns ErrNotFound when the
	// entry was deleted meanwhile.
	Update(ctx context.Context, e Entry) error

	// Delete deletes the entries with ids, all of which belong to token.
	Delete(ctx context.Context, token Token, ids []DEKID) error

	// SetQuarantine marks token as quarantined (on) or releases it.
	SetQuarantine(ctx context.Context, token Token, on bool) error

	// Quarantined reports whether token is quarantined.
	Quarantined(ctx context.Context, token Token) (bool, error)

	// Residue returns those of ids whose wrapped key is still on the
	// store's storage although deleted, such as a Kafka record that
	// compaction has not yet removed.
	Residue(ctx context.Context, ids []DEKID) ([]DEKID, error)

	// Subscribe registers fn to be called with every change that the
	// store learns of, including changes made by other processes, and
	// returns a function that cancels the subscription. fn must not block.
	Subscribe(fn func(Change)) (cancel func())
}

// Syncer is implemented by a KeyStore whose reads come from a local view
// of shared storage, such as keyring/kafkastore. Sync brings the view up
// to the storage's state when Sync was called.
type Syncer interface {
	Sync(ctx context.Context) error
}

var (
	// ErrNotFound is returned by a KeyStore for an id it does not hold.
	ErrNotFound = errors.New("keyring: key not found in the key store")

	// ErrStoreStale is returned by a KeyStore whose view of the shared
	// store could not be confirmed current within its staleness bound.
	ErrStoreStale = errors.New("keyring: key store view is out of date; subject keys are unavailable until it catches up")
)

// ParseDEKID parses a DEK id written by DEKID.String.
func ParseDEKID(s string) (DEKID, error) {
	var id DEKID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("keyring: invalid DEK id %q, want %d hexadecimal digits", s, 2*len(id))
	}
	copy(id[:], b)
	return id, nil
}
