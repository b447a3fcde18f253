package keyring

import (
	"context"
	"fmt"
	"time"

	"github.com/kenvelope/kenvelope/audit"
)

// ShredResult reports what Shred or ShredBefore deleted.
type ShredResult struct {
	// DEKIDs are the deleted DEKs, in the store's order.
	DEKIDs []DEKID
	// At is when the deletions were written.
	At time.Time
}

// IDStrings returns the DEK ids in hexadecimal.
func (s ShredResult) IDStrings() []string {
	out := make([]string, len(s.DEKIDs))
	for i, id := range s.DEKIDs {
		out[i] = id.String()
	}
	return out
}

// maxShredRounds bounds how often Shred reads a subject's entries again
// after deleting them.
const maxShredRounds = 5

// Shred deletes every DEK of subject, under every KEK, from the key store
// (crypto-shredding). After deleting, it reads the subject's entries again
// and deletes any DEK that another process stored meanwhile, until none is
// left. This Ring drops the DEKs from its caches before Shred returns, and
// no Ring that shares the store uses one of them once its store reports
// the deletion, even a Ring that was unwrapping it at that moment. A Ring
// whose store misses the report stops at the latest SubjectCacheTTL plus
// the store's staleness bound after Shred returned, or a little later
// when sealing (see SubjectCacheTTL). Records
// sealed under them then fail to open with a *ShreddedError. A later
// SealSubject for the subject creates a new DEK, which cannot open the
// old records; Quarantine the subject first to stop that.
func (r *Ring) Shred(ctx context.Context, subject []byte) (ShredResult, error) {
	if err := r.checkSubjectOp(subject); err != nil {
		return ShredResult{}, err
	}
	tok, err := r.subjectToken(ctx, subject)
	if err != nil {
		return ShredResult{}, err
	}
	for _, h := range r.subj.hot {
		h.remove(subject)
	}
	all := ShredResult{DEKIDs: []DEKID{}}
	for round := 0; ; round++ {
		es, err := r.subj.store.Entries(ctx, tok)
		if err != nil {
			return all, fmt.Errorf("keyring: read subject DEKs: %w", err)
		}
		if round > 0 && len(es) == 0 {
			return all, nil
		}
		if round == maxShredRounds {
			return all, fmt.Errorf("keyring: subject still has %d DEKs after %d rounds of deletion: another process keeps creating them; quarantine the subject first", len(es), round)
		}
		ids := make([]DEKID, len(es))
		for i, e := range es {
			ids[i] = e.ID
		}
		res, err := r.shredIDs(ctx, tok, ids)
		if err != nil {
			return all, err
		}
		all.DEKIDs, all.At = append(all.DEKIDs, res.DEKIDs...), res.At
		if len(es) == 0 {
			return all, nil
		}
	}
}

// SubjectState is the key store's record of one subject: its DEKs and
// its quarantine.
type SubjectState struct {
	// DEKIDs are the subject's stored DEKs under every KEK, in the
	// store's order. After a Shred that no other process raced, it is
	// empty.
	DEKIDs []DEKID
	// Quarantined reports whether sealing for the subject is stopped.
	Quarantined bool
}

// SubjectState reads what the key store holds for subject. It first brings
// the store's view up to date when the store implements Syncer. A purge
// calls it to verify that no DEK of the subject is left.
func (r *Ring) SubjectState(ctx context.Context, subject []byte) (SubjectState, error) {
	if err := r.checkSubjectOp(subject); err != nil {
		return SubjectState{}, err
	}
	tok, err := r.subjectToken(ctx, subject)
	if err != nil {
		return SubjectState{}, err
	}
	if s, ok := r.subj.store.(Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return SubjectState{}, fmt.Errorf("keyring: bring the key store up to date: %w", err)
		}
	}
	st := SubjectState{DEKIDs: []DEKID{}}
	es, err := r.subj.store.Entries(ctx, tok)
	if err != nil {
		return st, fmt.Errorf("keyring: read subject DEKs: %w", err)
	}
	for _, e := range es {
		st.DEKIDs = append(st.DEKIDs, e.ID)
	}
	if st.Quarantined, err = r.subj.store.Quarantined(ctx, tok); err != nil {
		return st, fmt.Errorf("keyring: read subject quarantine: %w", err)
	}
	return st, nil
}

// shredIDs deletes ids, all of token, and evicts them here.
func (r *Ring) shredIDs(ctx context.Context, tok Token, ids []DEKID) (ShredResult, error) {
	res := ShredResult{DEKIDs: ids}
	hexIDs := res.IDStrings()
	r.aud.emit(ctx, audit.Event{Kind: audit.ShredRequested, KeyIDs: hexIDs, Count: int64(len(ids))})
	if len(ids) > 0 {
		if err := r.subj.store.Delete(ctx, tok, ids); err != nil {
			return ShredResult{}, fmt.Errorf("keyring: delete %d subject DEKs: %w", len(ids), err)
		}
	}
	for _, id := range ids {
		r.subj.cache.forget(id, tok)
	}
	res.At = r.cfg.now()
	r.cfg.logger.Info("kenvelope: shredded subject DEKs", "count", len(ids), "dek_ids", hexIDs)
	r.aud.emit(ctx, audit.Event{Kind: audit.ShredCompleted, KeyIDs: hexIDs, Count: int64(len(ids)), Time: res.At})
	return res, nil
}

// ShredBefore deletes every subject DEK that was replaced by a newer
// generation created before cutoff, so records sealed before then become
// unreadable while each subject's current DEK stays: a retention purge.
// A process that has not yet read the newer generation may seal a few
// records under the old DEK after it was replaced, for at most
// SubjectCacheTTL plus the store's staleness bound, and a little more (see
// SubjectCacheTTL). Those records are shredded too.
func (r *Ring) ShredBefore(ctx context.Context, cutoff time.Time) (ShredResult, error) {
	if r.closed.Load() {
		return ShredResult{}, ErrClosed
	}
	if r.subj == nil {
		return ShredResult{}, ErrNoKeyStore
	}
	byToken := map[Token][]Entry{}
	err := r.subj.store.Range(ctx, func(e Entry) bool {
		if e.Kind == KindSubjectDEK {
			byToken[e.Token] = append(byToken[e.Token], e)
		}
		return true
	})
	if err != nil {
		return ShredResult{}, fmt.Errorf("keyring: read key store: %w", err)
	}
	var all ShredResult
	for tok, es := range byToken {
		ids := retired(es, cutoff)
		if len(ids) == 0 {
			continue
		}
		res, err := r.shredIDs(ctx, tok, ids)
		if err != nil {
			return all, err
		}
		all.DEKIDs, all.At = append(all.DEKIDs, res.DEKIDs...), res.At
	}
	return all, nil
}

// retired returns the entries of one subject (in Seq order) whose
// generation was succeeded by a winner created before cutoff, and losers
// of concurrent creations created before cutoff.
func retired(es []Entry, cutoff time.Time) []DEKID {
	type slot struct {
		kek string
		gen uint32
	}
	winners := map[slot]Entry{}
	for _, e := range es {
		if _, ok := winners[slot{e.KEKName, e.Generation}]; !ok {
			winners[slot{e.KEKName, e.Generation}] = e
		}
	}
	var ids []DEKID
	for _, e := range es {
		w := winners[slot{e.KEKName, e.Generation}]
		if w.ID != e.ID {
			if e.Created.Before(cutoff) {
				ids = append(ids, e.ID) // never used for sealing
			}
			continue
		}
		if next, ok := winners[slot{e.KEKName, e.Generation + 1}]; ok && next.Created.Before(cutoff) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// Quarantine stops producing for subject: every SealSubject for it, in
// every process that shares the key store, fails with ErrQuarantined once
// that process reads the change, until Release. Records already sealed
// still open.
func (r *Ring) Quarantine(ctx context.Context, subject []byte) error {
	return r.setQuarantine(ctx, subject, true)
}

// Release ends a Quarantine of subject.
func (r *Ring) Release(ctx context.Context, subject []byte) error {
	return r.setQuarantine(ctx, subject, false)
}

func (r *Ring) setQuarantine(ctx context.Context, subject []byte, on bool) error {
	if err := r.checkSubjectOp(subject); err != nil {
		return err
	}
	tok, err := r.subjectToken(ctx, subject)
	if err != nil {
		return err
	}
	if err := r.subj.store.SetQuarantine(ctx, tok, on); err != nil {
		return fmt.Errorf("keyring: set subject quarantine: %w", err)
	}
	r.subj.cache.quarantined(tok, r.subj.keks)
	return nil
}

func (r *Ring) checkSubjectOp(subject []byte) error {
	switch {
	case r.closed.Load():
		return ErrClosed
	case r.subj == nil:
		return ErrNoKeyStore
	case len(subject) == 0:
		return ErrNoSubject
	}
	return nil
}
