package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/keyring"
)

// PurgeRequest is one purge to run. Exactly one of Subject and Before is
// set.
type PurgeRequest struct {
	// Subject is the data subject whose DEKs are shredded, as given to
	// SubjectFunc. It is PHI and appears in no evidence, log or error.
	Subject []byte
	// Before is a retention cut-off: every subject DEK replaced by a newer
	// generation before it is shredded (keyring.Ring.ShredBefore).
	Before time.Time
	// Topics are scanned to verify that no record of the shredded DEKs
	// still decrypts.
	Topics []string
	// DeleteRecords, when set, deletes records below these offsets (per
	// topic and partition) with the DeleteRecords admin request, after
	// shredding and before verification.
	DeleteRecords map[string]map[int32]int64
	// RequestedBy and ApprovedBy name the two people responsible. Both
	// are required and must differ after normalisation: Unicode NFKC,
	// case folding, format characters such as zero-width spaces removed
	// and white space collapsed.
	RequestedBy, ApprovedBy string
	// Reason is a ticket or case reference. It must not contain PHI.
	Reason string
	// Release ends the subject's quarantine after verification, so that
	// new records for the subject can be produced again under a new DEK.
	// By default the subject stays quarantined.
	Release bool
}

// Verification is the result of a purge's scans.
type Verification struct {
	ScannedAt time.Time `json:"scanned_at"`
	// Records is how many records the topic scan read; Matched how many
	// carry one of the shredded DEK ids.
	Records int64 `json:"records"`
	Matched int64 `json:"matched"`
	// StillDecrypting lists the matched records that still decrypt; a
	// successful purge has none.
	StillDecrypting []RecordRef `json:"still_decrypting"`
	// StoreResidue lists shredded DEK ids whose wrapped key is still on the
	// key store's storage until compaction removes it.
	StoreResidue []string `json:"store_residue"`
	// Compaction is "complete" when StoreResidue is empty, else "pending".
	Compaction string `json:"compaction"`
	// Subject is the key store's state of the purged subject after the
	// scan. It is nil for a retention purge.
	Subject *SubjectCheck `json:"subject,omitempty"`
}

// SubjectCheck is the key store's state of a purged subject when the
// purge was verified.
type SubjectCheck struct {
	// LiveDEKIDs lists the subject's DEKs still stored, such as one that
	// a producer created while the purge ran and could not delete. Their
	// records still decrypt, so a verified purge has none.
	LiveDEKIDs []string `json:"live_dek_ids"`
	// Quarantined reports whether sealing for the subject was stopped, as
	// a verified purge requires.
	Quarantined bool `json:"quarantined"`
}

// RecordRef locates one record.
type RecordRef struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// Verified reports whether no shredded record decrypts and, for a subject
// purge, the subject has no DEK left and is quarantined.
func (v Verification) Verified() bool { return len(v.problems()) == 0 }

// problems returns why v is not verified.
func (v Verification) problems() []string {
	var out []string
	if n := len(v.StillDecrypting); n > 0 {
		out = append(out, fmt.Sprintf("%d records of the shredded DEKs still decrypt", n))
	}
	if v.Subject != nil && len(v.Subject.LiveDEKIDs) > 0 {
		out = append(out, fmt.Sprintf("the key store still holds %d DEKs of the subject", len(v.Subject.LiveDEKIDs)))
	}
	if v.Subject != nil && !v.Subject.Quarantined {
		out = append(out, "the subject is not quarantined")
	}
	return out
}

// Purger runs purges: quarantine, shred, optional DeleteRecords, verify,
// evidence. It is safe for concurrent use.
type Purger struct {
	ring       *keyring.Ring
	clientOpts []kgo.Opt
	cfg        purgeConfig
}

// PurgeOpt configures a Purger.
type PurgeOpt interface{ applyPurge(*purgeConfig) }

type purgeOptFunc func(*purgeConfig)

func (f purgeOptFunc) applyPurge(c *purgeConfig) { f(c) }

type purgeConfig struct {
	evidencePath string
	auditLog     *audit.LogSink
	logger       *slog.Logger
	now          func() time.Time
}

// EvidenceFile sets the JSON-lines file that each purge's evidence is
// chained to and appended to (see AppendEvidence). Default: none; Purge
// returns evidence that starts a chain of its own.
func EvidenceFile(path string) PurgeOpt {
	return purgeOptFunc(func(c *purgeConfig) { c.evidencePath = path })
}

// AuditHead records the head of the given audit log in each evidence
// document, which anchors the log's hash chain. Default: none.
func AuditHead(l *audit.LogSink) PurgeOpt {
	return purgeOptFunc(func(c *purgeConfig) { c.auditLog = l })
}

// WithPurgeLogger sets the logger for purge steps. Default: discard.
func WithPurgeLogger(l *slog.Logger) PurgeOpt {
	return purgeOptFunc(func(c *purgeConfig) { c.logger = l })
}

// NewPurger returns a Purger that shreds with ring and reaches the cluster
// through short-lived clients built from clientOpts (seed brokers, TLS,
// SASL). ring needs keyring.WithKeyStore.
func NewPurger(ring *keyring.Ring, clientOpts []kgo.Opt, opts ...PurgeOpt) (*Purger, error) {
	cfg := purgeConfig{logger: discardLogger(), now: time.Now}
	for _, o := range opts {
		o.applyPurge(&cfg)
	}
	if ring == nil || ring.KeyStore() == nil {
		return nil, fmt.Errorf("kenvelope: NewPurger needs a keyring with a key store")
	}
	if cfg.logger == nil {
		return nil, fmt.Errorf("kenvelope: WithPurgeLogger(nil)")
	}
	return &Purger{ring: ring, clientOpts: clientOpts, cfg: cfg}, nil
}

func (req *PurgeRequest) validate() error {
	switch {
	case (len(req.Subject) == 0) == req.Before.IsZero():
		return fmt.Errorf("kenvelope: a purge request needs exactly one of Subject and Before")
	case personKey(req.RequestedBy) == "" || personKey(req.ApprovedBy) == "":
		return fmt.Errorf("kenvelope: a purge request needs RequestedBy and ApprovedBy")
	case personKey(req.RequestedBy) == personKey(req.ApprovedBy):
		return fmt.Errorf("kenvelope: purge requested and approved by the same person %q; a second person must approve", req.RequestedBy)
	case len(req.Topics) == 0:
		return fmt.Errorf("kenvelope: a purge request needs the topics to verify")
	}
	return nil
}

// Purge runs req. For a subject it quarantines the subject, so that no
// process produces for it during the purge, and shreds its DEKs. For a
// cut-off it shreds the DEKs replaced before it. Purge then deletes
// records if requested, verifies, and writes the evidence. Verification
// scans the topics and, for a subject, reads the key store again: a DEK
// of the subject still stored, or a quarantine no longer in force, fails
// it too. It returns the evidence with an error when verification fails.
func (p *Purger) Purge(ctx context.Context, req PurgeRequest) (*Evidence, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	ev := &Evidence{RequestedBy: req.RequestedBy, ApprovedBy: req.ApprovedBy, Reason: req.Reason,
		RequestedAt: p.cfg.now().UTC(), Topics: req.Topics}
	res, err := p.shred(ctx, &req, ev)
	if err != nil {
		return nil, err
	}
	ev.ShreddedAt, ev.DEKIDs = res.At.UTC(), res.IDStrings()
	if ev.Deleted, err = p.deleteRecords(ctx, req.DeleteRecords); err != nil {
		return nil, err
	}
	if ev.Verification, err = p.Verify(ctx, res.DEKIDs, req.Topics); err != nil {
		return nil, err
	}
	if len(req.Subject) > 0 {
		if ev.Verification.Subject, err = p.checkSubject(ctx, req.Subject); err != nil {
			return nil, err
		}
	}
	if req.Release && len(req.Subject) > 0 {
		if err := p.ring.Release(ctx, req.Subject); err != nil {
			return nil, err
		}
	}
	return ev, p.finish(ctx, ev)
}

func (p *Purger) shred(ctx context.Context, req *PurgeRequest, ev *Evidence) (keyring.ShredResult, error) {
	if len(req.Subject) == 0 {
		ev.Scope = "retention"
		cutoff := req.Before.UTC()
		ev.Cutoff = &cutoff
		return p.ring.ShredBefore(ctx, req.Before)
	}
	ev.Scope = "subject"
	if err := p.ring.Quarantine(ctx, req.Subject); err != nil {
		return keyring.ShredResult{}, err
	}
	return p.ring.Shred(ctx, req.Subject)
}

func (p *Purger) deleteRecords(ctx context.Context, offsets map[string]map[int32]int64) ([]DeletedRange, error) {
	if len(offsets) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(p.clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: create admin client: %w", err)
	}
	defer cl.Close()
	os := kadm.Offsets{}
	for t, ps := range offsets {
		for part, o := range ps {
			os.Add(kadm.Offset{Topic: t, Partition: part, At: o, LeaderEpoch: -1})
		}
	}
	resp, err := kadm.NewClient(cl).DeleteRecords(ctx, os)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: delete records: %w", err)
	}
	var out []DeletedRange
	var errs []error
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("kenvelope: delete records of %q partition %d: %w", r.Topic, r.Partition, r.Err))
			continue
		}
		out = append(out, DeletedRange{Topic: r.Topic, Partition: r.Partition, Offset: offsets[r.Topic][r.Partition], LowWatermark: r.LowWatermark})
	}
	return out, errors.Join(errs...)
}

// finish records the outcome in the audit log and the evidence file.
func (p *Purger) finish(ctx context.Context, ev *Evidence) error {
	v := ev.Verification
	ev.CompletedAt = p.cfg.now().UTC()
	if v.Verified() {
		p.ring.AuditEvent(ctx, audit.Event{Kind: audit.ShredVerified, KeyIDs: ev.DEKIDs, Count: v.Matched, Reason: "compaction-" + v.Compaction})
	}
	if p.cfg.auditLog != nil {
		ev.AuditHead = audit.FormatHead(p.cfg.auditLog.Head())
	}
	var err error
	if p.cfg.evidencePath != "" {
		err = AppendEvidence(p.cfg.evidencePath, ev)
	} else {
		err = ev.seal(nil)
	}
	if err != nil {
		return err
	}
	p.cfg.logger.Info("kenvelope: purge finished", "scope", ev.Scope, "dek_ids", len(ev.DEKIDs), "matched", v.Matched,
		"still_decrypting", len(v.StillDecrypting), "compaction", v.Compaction, "evidence_seq", ev.Seq)
	if probs := v.problems(); len(probs) > 0 {
		return fmt.Errorf("kenvelope: purge verification failed: %s", strings.Join(probs, "; "))
	}
	return nil
}
