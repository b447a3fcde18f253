package keyring

import (
	"context"
	"errors"
	"fmt"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kms"
)

// resolveSubject makes a usable DEK current for key: the subject's current
// generation from the store when stale cannot be used only because its
// cache entry expired, else a new generation. One resolve per subject and
// KEK runs at a time.
func (r *Ring) resolveSubject(ctx context.Context, key activeKey, stale *subjectDEK, topic string) (*subjectDEK, error) {
	return r.subj.resolves.do(ctx, key, func() (*subjectDEK, error) {
		store := r.subj.store
		q, err := store.Quarantined(ctx, key.token)
		if err != nil {
			return nil, fmt.Errorf("keyring: read subject quarantine: %w", err)
		}
		if q {
			return nil, ErrQuarantined
		}
		es, err := store.Entries(ctx, key.token)
		if err != nil {
			return nil, fmt.Errorf("keyring: read subject DEKs: %w", err)
		}
		cur, ok := current(es, key.kek)
		if ok && r.usable(cur, stale) {
			s, err := r.openEntry(ctx, cur)
			if err == nil {
				r.subj.cache.add(s, true, r.cfg.now())
				return s, nil
			}
			if !errors.Is(err, ErrShredded) {
				return nil, err
			}
		}
		gen := uint32(1)
		if ok {
			gen = cur.Generation + 1
		}
		return r.createSubjectDEK(ctx, key, gen, topic)
	})
}

// usable reports whether the stored entry cur may seal more values: it is
// younger than SubjectKeyMaxAge and is not the DEK that just reached a
// limit in this process.
func (r *Ring) usable(cur Entry, stale *subjectDEK) bool {
	if r.cfg.now().Sub(cur.Created) >= r.cfg.subject.maxAge {
		return false
	}
	if s := r.subj.cache.get(cur.ID); s != nil && s.exhausted.Load() {
		return false
	}
	return stale == nil || stale.entry.ID != cur.ID || !stale.exhausted.Load()
}

// createSubjectDEK generates, wraps and stores generation gen of key's DEK
// and makes the slot's winner current, which is another process's DEK
// when two created the generation at once.
func (r *Ring) createSubjectDEK(ctx context.Context, key activeKey, gen uint32, topic string) (*subjectDEK, error) {
	if f := r.subj.wrapErr.Load(); f != nil && r.cfg.now().Sub(f.at) < r.cfg.failureBackoff {
		return nil, f.err
	}
	dek := envelope.NewDEK()
	now := r.cfg.now()
	e := Entry{ID: newDEKID(), Kind: KindSubjectDEK, Token: key.token, KEKName: key.kek, Generation: gen, Created: now, Wrapped: now}
	raw := dek.Bytes()
	w, err := r.keks[key.kek].Wrap(ctx, raw, entryContext(e))
	clear(raw)
	if err == nil && (len(w.Ciphertext) == 0 || len(w.Ciphertext) > envelope.MaxEDEKLen) {
		err = &kms.Error{Op: kms.OpWrap, KEK: key.kek, Version: w.Version, Kind: kms.ErrInvalidResponse,
			Cause: fmt.Errorf("wrapped key is %d bytes, want 1 to %d", len(w.Ciphertext), envelope.MaxEDEKLen)}
	}
	if err != nil {
		if !isContextErr(err) {
			r.subj.wrapErr.Store(&failure{err: fmt.Errorf("keyring: wrap new subject DEK: %w", err), at: r.cfg.now()})
		}
		return nil, fmt.Errorf("keyring: wrap new subject DEK: %w", err)
	}
	r.subj.wrapErr.Store(nil)
	e.KEKVersion, e.EDEK = w.Version, w.Ciphertext

	win, err := r.storeFirst(ctx, e)
	if err != nil {
		return nil, err
	}
	if win.ID != e.ID {
		dek.Destroy()
		s, err := r.openEntry(ctx, win)
		if err != nil {
			return nil, err
		}
		r.subj.cache.add(s, true, r.cfg.now())
		return s, nil
	}
	s, err := newSubjectDEK(e, dek)
	if err != nil {
		return nil, err
	}
	s.expires.Store(r.expiry(r.cfg.now()))
	r.subj.cache.add(s, true, r.cfg.now())
	r.cfg.logger.Info("kenvelope: created subject DEK", "kek", key.kek, "kek_version", w.Version, "dek_id", e.ID.String(), "generation", gen)
	r.aud.emit(ctx, audit.Event{Kind: audit.DEKCreated, Topic: topic, KEK: key.kek, KEKVersion: w.Version, KeyIDs: []string{e.ID.String()}, Count: 1, Reason: "subject"})
	return s, nil
}

// openEntry returns the unwrapped DEK of the stored entry e, from the cache
// or by unwrapping it, and marks it valid for another SubjectCacheTTL.
func (r *Ring) openEntry(ctx context.Context, e Entry) (*subjectDEK, error) {
	now := r.cfg.now()
	if s := r.subj.cache.get(e.ID); s != nil && !s.dead.Load() {
		s.expires.Store(r.expiry(now))
		return s, nil
	}
	kek, ok := r.keks[e.KEKName]
	if !ok {
		return nil, &UnknownKEKError{Name: e.KEKName}
	}
	dek, err := r.unwrap.do(ctx, "subject\x00"+string(e.ID[:]), r.cfg.failureBackoff, r.cfg.now, func() (*envelope.DEK, error) {
		raw, err := kek.Unwrap(ctx, kms.Wrapped{Version: e.KEKVersion, Ciphertext: e.EDEK}, entryContext(e))
		if err != nil {
			return nil, fmt.Errorf("keyring: unwrap subject DEK %s: %w", e.ID, err)
		}
		defer clear(raw)
		return envelope.NewDEKFromBytes(raw)
	})
	if err != nil {
		return nil, err
	}
	s, err := newSubjectDEK(e, dek)
	if err != nil {
		return nil, err
	}
	s.expires.Store(r.expiry(now))
	r.subj.cache.add(s, false, now)
	return s, nil
}

// subjectDEK returns the DEK of a subject-scope descriptor for opening.
func (r *Ring) subjectDEK(ctx context.Context, d envelope.Descriptor) (*envelope.DEK, error) {
	if r.subj == nil {
		return nil, ErrNoKeyStore
	}
	var id DEKID
	copy(id[:], d.KeyRef)
	if s := r.subj.cache.get(id); s != nil && !s.dead.Load() && r.cfg.now().UnixNano() < s.expires.Load() {
		return s.dek, nil
	}
	e, err := r.subj.store.Lookup(ctx, id)
	if errors.Is(err, ErrNotFound) {
		r.subj.cache.forget(id)
		return nil, &ShreddedError{DEKID: id.String()}
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: look up subject DEK %s: %w", id, err)
	}
	if e.Kind != KindSubjectDEK || e.KEKName != d.KEKName {
		return nil, fmt.Errorf("keyring: DEK %s is stored under KEK %q, but the record names KEK %q: %w", id, e.KEKName, d.KEKName, envelope.ErrAuth)
	}
	s, err := r.openEntry(ctx, e)
	if err != nil {
		return nil, err
	}
	return s.dek, nil
}
