package keyring

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/kenvelope/kenvelope/kms"
)

// tokenKeySize is the length of the HMAC-SHA-256 key for subject tokens.
const tokenKeySize = 32

// subjectToken returns the token of subject, loading the token key from
// the store on first use.
func (r *Ring) subjectToken(ctx context.Context, subject []byte) (Token, error) {
	tk := r.subj.tokenKey.Load()
	if tk == nil {
		var err error
		if tk, err = r.loadTokenKey(ctx); err != nil {
			return Token{}, err
		}
	}
	return tk.token(subject), nil
}

// loadTokenKey unwraps the store's token key, creating it if the store
// has none. Concurrent first creations in several processes converge:
// every process uses the entry that the store ordered first.
func (r *Ring) loadTokenKey(ctx context.Context) (*tokenKey, error) {
	s := r.subj
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	if tk := s.tokenKey.Load(); tk != nil {
		return tk, nil
	}
	if s.tokenErr != nil && r.cfg.now().Sub(s.tokenErrAt) < r.cfg.failureBackoff {
		return nil, s.tokenErr
	}
	tk, err := r.fetchTokenKey(ctx)
	if err != nil {
		if !isContextErr(err) {
			s.tokenErr, s.tokenErrAt = err, r.cfg.now()
		}
		return nil, err
	}
	s.tokenErr = nil
	s.tokenKey.Store(tk)
	return tk, nil
}

func (r *Ring) fetchTokenKey(ctx context.Context) (*tokenKey, error) {
	es, err := r.subj.store.Entries(ctx, Token{})
	if err != nil {
		return nil, fmt.Errorf("keyring: read token key: %w", err)
	}
	win, ok := winner(es, KindTokenKey, "", 0)
	if !ok {
		if win, err = r.createTokenKey(ctx); err != nil {
			return nil, err
		}
	}
	kek, ok := r.keks[win.KEKName]
	if !ok {
		return nil, fmt.Errorf("keyring: the key store's token key is wrapped by KEK %q: %w", win.KEKName, &UnknownKEKError{Name: win.KEKName})
	}
	raw, err := kek.Unwrap(ctx, kms.Wrapped{Version: win.KEKVersion, Ciphertext: win.EDEK}, entryContext(win))
	if err != nil {
		return nil, fmt.Errorf("keyring: unwrap token key %s: %w", win.ID, err)
	}
	defer clear(raw)
	if len(raw) != tokenKeySize {
		return nil, &kms.Error{Op: kms.OpUnwrap, KEK: win.KEKName, Version: win.KEKVersion, Kind: kms.ErrInvalidResponse,
			Cause: fmt.Errorf("token key is %d bytes, want %d", len(raw), tokenKeySize)}
	}
	return newTokenKey(raw), nil
}

// createTokenKey stores a new token key and returns the entry that won,
// which is another process's when two created one at once.
func (r *Ring) createTokenKey(ctx context.Context) (Entry, error) {
	name := r.cfg.subject.tokenKEK
	if name == "" {
		name = r.names[0]
	}
	kek, ok := r.keks[name]
	if !ok {
		return Entry{}, &UnknownKEKError{Name: name}
	}
	raw := make([]byte, tokenKeySize)
	rand.Read(raw)
	defer clear(raw)
	e := Entry{ID: newDEKID(), Kind: KindTokenKey, KEKName: name}
	w, err := kek.Wrap(ctx, raw, entryContext(e))
	if err != nil {
		return Entry{}, fmt.Errorf("keyring: wrap new token key: %w", err)
	}
	now := r.cfg.now()
	e.KEKVersion, e.EDEK, e.Created, e.Wrapped = w.Version, w.Ciphertext, now, now
	win, err := r.storeFirst(ctx, e)
	if err != nil {
		return Entry{}, err
	}
	if win.ID == e.ID {
		r.cfg.logger.Info("kenvelope: created subject token key", "kek", name, "kek_version", w.Version, "key_id", e.ID.String())
	}
	return win, nil
}

// storeFirst creates e and returns the winner of e's slot. When another
// entry won, e is deleted again so the store keeps one key per slot.
func (r *Ring) storeFirst(ctx context.Context, e Entry) (Entry, error) {
	store := r.subj.store
	if _, err := store.Create(ctx, e); err != nil {
		return Entry{}, fmt.Errorf("keyring: store key %s: %w", e.ID, err)
	}
	es, err := store.Entries(ctx, e.Token)
	if err != nil {
		return Entry{}, fmt.Errorf("keyring: read back key %s: %w", e.ID, err)
	}
	win, ok := winner(es, e.Kind, e.KEKName, e.Generation)
	if !ok {
		return Entry{}, fmt.Errorf("keyring: key %s was deleted right after it was stored: %w", e.ID, ErrShredded)
	}
	if win.ID != e.ID {
		if err := store.Delete(ctx, e.Token, []DEKID{e.ID}); err != nil {
			r.cfg.logger.Warn("kenvelope: deleting a key that lost a concurrent creation failed", "key_id", e.ID.String(), "error", err)
		}
	}
	return win, nil
}

// winner returns the first entry in es (which is in Seq order) of the
// given slot. The token key's slot ignores kek and generation.
func winner(es []Entry, kind EntryKind, kek string, gen uint32) (Entry, bool) {
	for _, e := range es {
		if e.Kind != kind {
			continue
		}
		if kind == KindTokenKey || (e.KEKName == kek && e.Generation == gen) {
			return e, true
		}
	}
	return Entry{}, false
}

// current returns the winner of the highest generation of kek in es.
func current(es []Entry, kek string) (Entry, bool) {
	var best Entry
	found := false
	for _, e := range es {
		if e.Kind == KindSubjectDEK && e.KEKName == kek && (!found || e.Generation > best.Generation) {
			best, found = e, true
		}
	}
	return best, found
}

// entryContext is the encryption context bound to a stored key. It names
// the kind and id, never the token, so the KMS audit log holds no subject
// data and a wrapped key cannot be moved to another entry.
func entryContext(e Entry) kms.EncryptionContext {
	kind := "subject-dek"
	if e.Kind == KindTokenKey {
		kind = "subject-token-key"
	}
	return kms.EncryptionContext{"kenvelope": kind, "key_id": e.ID.String()}
}

func newDEKID() DEKID {
	var id DEKID
	rand.Read(id[:])
	return id
}

// expiry returns when an entry cached at now must be checked again.
func (r *Ring) expiry(now time.Time) int64 { return now.Add(r.cfg.subject.cacheTTL).UnixNano() }
