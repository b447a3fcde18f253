package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kms"
)

// resolved is the result of resolveSubject: the DEK made current, and the
// position in the change log taken before the store read that admitted it.
type resolved struct {
	dek   *subjectDEK
	since uint64
}

// readMark is taken just before a read of the store: the position in the
// change log and the time. A DEK admitted from that read is valid until
// at plus SubjectCacheTTL, however long an unwrap took since, and changes
// logged from since on may make the read stale.
type readMark struct {
	since uint64
	at    time.Time
}

func (r *Ring) markRead() readMark { return readMark{since: r.subj.cache.mark(), at: r.cfg.now()} }

// resolveSubject makes a usable DEK current for key: the subject's current
// generation from the store when stale cannot be used only because its
// cache entry expired, else a new generation. One resolve per subject and
// KEK runs at a time.
func (r *Ring) resolveSubject(ctx context.Context, key activeKey, stale *subjectDEK, topic string) (resolved, error) {
	return r.subj.resolves.do(ctx, key, func() (resolved, error) {
		m := r.markRead()
		if err := r.checkQuarantine(ctx, key.token); err != nil {
			return resolved{}, err
		}
		es, err := r.subj.store.Entries(ctx, key.token)
		if err != nil {
			return resolved{}, fmt.Errorf("keyring: read subject DEKs: %w", err)
		}
		cur, ok := current(es, key.kek)
		if ok && r.usable(cur, stale) {
			s, admitted, err := r.openEntry(ctx, cur, true, m)
			if err == nil {
				return resolved{s, admitted.since}, nil
			}
			if !errors.Is(err, ErrShredded) {
				return resolved{}, err
			}
		}
		gen := uint32(1)
		if ok {
			gen = cur.Generation + 1
		}
		s, admitted, err := r.createSubjectDEK(ctx, key, gen, topic, m)
		return resolved{s, admitted.since}, err
	})
}

// checkQuarantine returns ErrQuarantined when the store marks token as
// quarantined.
func (r *Ring) checkQuarantine(ctx context.Context, token Token) error {
	q, err := r.subj.store.Quarantined(ctx, token)
	if err != nil {
		return fmt.Errorf("keyring: read subject quarantine: %w", err)
	}
	if q {
		return ErrQuarantined
	}
	return nil
}

// usable reports whether the stored entry cur may seal more values: it is
// younger than SubjectKeyMaxAge and is not the DEK that just reached a
// limit in this process.
func (r *Ring) usable(cur Entry, stale *subjectDEK) bool {
	if r.cfg.now().Sub(cur.Created) >= r.cfg.subject.maxAge {
		return false
	}
	if r.subj.cache.exhausted(cur.ID) {
		return false
	}
	return stale == nil || stale.entry.ID != cur.ID || !stale.exhausted.Load()
}

// createSubjectDEK generates, wraps and stores generation gen of key's DEK
// and makes the slot's winner current, which is another process's DEK
// when two created the generation at once. m was taken before the
// resolve read the store. It also returns the mark admit succeeded with.
//
// A purge quarantines the subject and then deletes every DEK it reads, so
// a DEK stored after that read would escape it. The quarantine is
// therefore checked again once the new entry is stored: the store orders
// a subject's records, so a quarantine written before the entry is
// visible then, and the entry is deleted again.
func (r *Ring) createSubjectDEK(ctx context.Context, key activeKey, gen uint32, topic string, m readMark) (*subjectDEK, readMark, error) {
	dek, e, err := r.wrapSubjectDEK(ctx, key, gen)
	if err != nil {
		return nil, m, err
	}
	if err := r.checkQuarantine(ctx, key.token); err != nil {
		dek.Destroy()
		return nil, m, err // quarantined during the wrap
	}
	win, err := r.storeFirst(ctx, e)
	if err != nil {
		dek.Destroy()
		return nil, m, err
	}
	if err := r.checkQuarantine(ctx, key.token); err != nil {
		dek.Destroy()
		if win.ID == e.ID {
			r.deleteOwn(ctx, e)
		}
		return nil, m, err
	}
	if win.ID != e.ID {
		dek.Destroy()
		return r.openEntry(ctx, win, true, m)
	}

	r.cfg.logger.Info("kenvelope: created subject DEK", "kek", key.kek, "kek_version", e.KEKVersion, "dek_id", e.ID.String(), "generation", gen)
	r.aud.emit(ctx, audit.Event{Kind: audit.DEKCreated, Topic: topic, KEK: key.kek, KEKVersion: e.KEKVersion, KeyIDs: []string{e.ID.String()}, Count: 1, Reason: "subject"})
	s, err := newSubjectDEK(e, dek)
	if err != nil {
		return nil, m, err
	}
	return r.admit(ctx, s, true, m)
}

// wrapSubjectDEK generates a DEK for generation gen of key and wraps it,
// returning the DEK and its entry, not yet stored.
func (r *Ring) wrapSubjectDEK(ctx context.Context, key activeKey, gen uint32) (*envelope.DEK, Entry, error) {
	if f := r.subj.wrapErr.Load(); f != nil && r.cfg.now().Sub(f.at) < r.cfg.failureBackoff {
		return nil, Entry{}, f.err
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
		dek.Destroy()
		err = fmt.Errorf("keyring: wrap new subject DEK: %w", err)
		if !isContextErr(err) {
			r.subj.wrapErr.Store(&failure{err: err, at: r.cfg.now()})
		}
		return nil, Entry{}, err
	}
	r.subj.wrapErr.Store(nil)
	e.KEKVersion, e.EDEK = w.Version, w.Ciphertext
	return dek, e, nil
}

// deleteOwn deletes e, which this Ring just stored for a subject that
// turned out to be quarantined. A failure is logged: the purge's
// verification then finds the entry live and reports it.
func (r *Ring) deleteOwn(ctx context.Context, e Entry) {
	if err := r.subj.store.Delete(ctx, e.Token, []DEKID{e.ID}); err != nil {
		r.cfg.logger.Warn("kenvelope: deleting a new DEK of a quarantined subject failed", "dek_id", e.ID.String(), "error", err)
		return
	}
	r.subj.cache.forget(e.ID, e.Token)
}

// openEntry returns the unwrapped DEK of the stored entry e, from the cache
// or by unwrapping it, and caches it through admit (as current when
// sealing), valid until SubjectCacheTTL after the store read that m marks.
// It also returns the mark admit succeeded with.
func (r *Ring) openEntry(ctx context.Context, e Entry, sealing bool, m readMark) (*subjectDEK, readMark, error) {
	s := r.subj.cache.get(e.ID)
	if s == nil || s.dead.Load() {
		var err error
		if s, err = r.unwrapEntry(ctx, e); err != nil {
			return nil, m, err
		}
	}
	return r.admit(ctx, s, sealing, m)
}

// unwrapEntry unwraps the DEK of e, one KMS call per id at a time.
func (r *Ring) unwrapEntry(ctx context.Context, e Entry) (*subjectDEK, error) {
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
	return newSubjectDEK(e, dek)
}

// maxAdmitRounds bounds how often admit reads the store again while the
// store keeps reporting changes.
const maxAdmitRounds = 4

// admit caches s (as current when sealing), valid until SubjectCacheTTL
// after the store read that m marks, and returns the cached object with
// the mark it succeeded with.
// The caller read s from the store, and maybe unwrapped it, after taking
// m. When the store reported the deletion of s since then,
// or (when sealing) a quarantine change of its subject, that read may be
// out of date, so admit reads the store again. A deleted DEK then fails
// with *ShreddedError and a quarantined subject with ErrQuarantined.
// Neither is cached, so no DEK deleted before Shred returned seals or
// opens a record afterwards.
func (r *Ring) admit(ctx context.Context, s *subjectDEK, sealing bool, m readMark) (*subjectDEK, readMark, error) {
	for round := 0; ; round++ {
		if got, ok := r.subj.cache.addIf(s, sealing, r.cfg.now(), m.since, r.expiry(m.at)); ok {
			return got, m, nil
		}
		if round == maxAdmitRounds {
			return nil, m, fmt.Errorf("keyring: subject DEK %s kept changing in the key store during %d checks; retry", s.entry.ID, round)
		}
		m = r.markRead()
		if err := r.recheck(ctx, s.entry, sealing); err != nil {
			return nil, m, err
		}
		if s.dead.Load() { // evicted from the cache, still stored
			var err error
			if s, err = s.revive(); err != nil {
				return nil, m, err
			}
		}
	}
}

// recheck reads the store again for e: ErrQuarantined when sealing for a
// quarantined subject, *ShreddedError when e is gone.
func (r *Ring) recheck(ctx context.Context, e Entry, sealing bool) error {
	if sealing {
		if err := r.checkQuarantine(ctx, e.Token); err != nil {
			return err
		}
	}
	_, err := r.subj.store.Lookup(ctx, e.ID)
	if errors.Is(err, ErrNotFound) {
		r.subj.cache.remove(e.ID)
		return &ShreddedError{DEKID: e.ID.String()}
	}
	if err != nil {
		return fmt.Errorf("keyring: look up subject DEK %s: %w", e.ID, err)
	}
	return nil
}

// subjectDEK returns the DEK of a subject-scope descriptor for opening.
func (r *Ring) subjectDEK(ctx context.Context, d envelope.Descriptor) (*envelope.DEK, error) {
	if r.subj == nil {
		return nil, ErrNoKeyStore
	}
	var id DEKID
	copy(id[:], d.KeyRef)
	if s := r.subj.cache.get(id); s != nil && !s.dead.Load() && r.cfg.now().UnixNano() < s.openExpires.Load() {
		return s.dek, nil
	}
	m := r.markRead()
	e, err := r.subj.store.Lookup(ctx, id)
	if errors.Is(err, ErrNotFound) {
		r.subj.cache.remove(id)
		return nil, &ShreddedError{DEKID: id.String()}
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: look up subject DEK %s: %w", id, err)
	}
	if e.Kind != KindSubjectDEK || e.KEKName != d.KEKName {
		return nil, fmt.Errorf("keyring: DEK %s is stored under KEK %q, but the record names KEK %q: %w", id, e.KEKName, d.KEKName, envelope.ErrAuth)
	}
	s, _, err := r.openEntry(ctx, e, false, m)
	if err != nil {
		return nil, err
	}
	return s.dek, nil
}
