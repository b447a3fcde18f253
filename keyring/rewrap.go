package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/kms"
)

// RewrapResult counts what Rewrap did.
type RewrapResult struct {
	Scanned   int // live entries read from the store
	Rewrapped int // entries wrapped again and written back
	Current   int // entries already wrapped as requested, left alone
	Skipped   int // entries of a KEK this Ring lacks, left alone
	Deleted   int // entries shredded while the run read them, not written
	Failed    int // entries whose unwrap, wrap or write failed
	// Started is when the run began. Pass it to RewrapBefore to resume an
	// interrupted run for a KEK that does not report versions.
	Started time.Time
}

// RewrapOpt configures Rewrap.
type RewrapOpt interface{ applyRewrap(*rewrapConfig) }

type rewrapConfig struct {
	before time.Time
	kek    string
}

type rewrapOptFunc func(*rewrapConfig)

func (f rewrapOptFunc) applyRewrap(c *rewrapConfig) { f(c) }

// RewrapBefore also rewraps entries whose Wrapped time is before t, even
// when their KEK version is the newest. Use it for a KEK that does not
// implement kms.Versioned (its version is always zero), and to resume such
// a run with the Started time of the first. KeyStores keep Wrapped to the
// nanosecond, so every entry that the first run wrote has a Wrapped time
// after Started, and the resumed run skips it. A wall clock stepped back
// between the runs makes the resumed run redo some entries, which costs
// KMS calls and is otherwise harmless. Default: only entries whose version
// differs from the KEK's primary version are rewrapped.
func RewrapBefore(t time.Time) RewrapOpt {
	return rewrapOptFunc(func(c *rewrapConfig) { c.before = t })
}

// RewrapKEK limits Rewrap to entries wrapped by the named KEK. Default:
// every KEK of the Ring.
func RewrapKEK(name string) RewrapOpt { return rewrapOptFunc(func(c *rewrapConfig) { c.kek = name }) }

// Rewrap wraps every stored subject DEK and the token key again under its
// KEK's current primary version, without reading or rewriting any record:
// the step after a KEK version is compromised, before that version is
// destroyed. It is resumable: an interrupted run leaves each entry wrapped
// either way, both of which open, and a second run skips the entries
// already done. It returns the counts and the first error; entries that
// fail are counted and the run goes on, unless ctx ends.
func (r *Ring) Rewrap(ctx context.Context, opts ...RewrapOpt) (RewrapResult, error) {
	var cfg rewrapConfig
	for _, o := range opts {
		o.applyRewrap(&cfg)
	}
	res := RewrapResult{Started: r.cfg.now()}
	if r.closed.Load() {
		return res, ErrClosed
	}
	if r.subj == nil {
		return res, ErrNoKeyStore
	}

	primaries, err := r.primaryVersions(ctx, cfg.kek)
	if err != nil {
		return res, err
	}
	var entries []Entry
	err = r.subj.store.Range(ctx, func(e Entry) bool {
		entries = append(entries, e)
		return true
	})
	if err != nil {
		return res, fmt.Errorf("keyring: read key store: %w", err)
	}

	var errs []error
	for _, e := range entries {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if err := r.rewrapEntry(ctx, e, cfg, primaries, &res); err != nil && len(errs) < 8 {
			errs = append(errs, err)
		}
	}

	r.aud.emit(ctx, audit.Event{Kind: audit.Rewrap, KEK: cfg.kek, Count: int64(res.Rewrapped)})
	r.cfg.logger.Info("kenvelope: rewrap finished", "scanned", res.Scanned, "rewrapped", res.Rewrapped,
		"current", res.Current, "skipped", res.Skipped, "deleted", res.Deleted, "failed", res.Failed)
	return res, errors.Join(errs...)
}

// primaryVersions returns the primary version of each kms.Versioned KEK
// (or only of only, when set).
func (r *Ring) primaryVersions(ctx context.Context, only string) (map[string]uint32, error) {
	if only != "" {
		if _, ok := r.keks[only]; !ok {
			return nil, &UnknownKEKError{Name: only}
		}
	}
	out := map[string]uint32{}
	for name, kek := range r.keks {
		v, ok := kek.(kms.Versioned)
		if !ok || (only != "" && name != only) {
			continue
		}
		p, err := v.PrimaryVersion(ctx)
		if err != nil {
			return nil, fmt.Errorf("keyring: read primary version of KEK %q: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

func (r *Ring) rewrapEntry(ctx context.Context, e Entry, cfg rewrapConfig, primaries map[string]uint32, res *RewrapResult) error {
	if cfg.kek != "" && e.KEKName != cfg.kek {
		return nil
	}
	res.Scanned++
	kek, ok := r.keks[e.KEKName]
	if !ok {
		res.Skipped++
		return nil
	}
	primary, versioned := primaries[e.KEKName]
	stale := (versioned && e.KEKVersion != primary) || e.Wrapped.Before(cfg.before)
	if !stale {
		res.Current++
		return nil
	}

	raw, err := kek.Unwrap(ctx, kms.Wrapped{Version: e.KEKVersion, Ciphertext: e.EDEK}, entryContext(e))
	if err != nil {
		res.Failed++
		return fmt.Errorf("keyring: rewrap %s: unwrap: %w", e.ID, err)
	}
	w, err := kek.Wrap(ctx, raw, entryContext(e))
	clear(raw)
	if err != nil {
		res.Failed++
		return fmt.Errorf("keyring: rewrap %s: wrap: %w", e.ID, err)
	}

	e.KEKVersion, e.EDEK, e.Wrapped = w.Version, w.Ciphertext, r.cfg.now()
	if err := r.subj.store.Update(ctx, e); err != nil {
		if errors.Is(err, ErrNotFound) {
			res.Deleted++
			return nil
		}
		res.Failed++
		return fmt.Errorf("keyring: rewrap %s: write: %w", e.ID, err)
	}
	res.Rewrapped++
	return nil
}
