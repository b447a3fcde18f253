package keyring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kms"
)

// auditor sends a Ring's audit events to the configured sink. DEK uses
// and repeated denials are counted and written every AuditInterval, so a
// busy consumer writes one event per key and topic per interval.
type auditor struct {
	cfg    auditConfig
	now    func() time.Time
	logger *slog.Logger

	mu     sync.Mutex
	uses   map[string]*keyCounts // by the descriptor's key reference
	denies map[denyKey]*denyCount
}

// keyCounts counts the uses of one key per topic.
type keyCounts struct {
	kek     string
	version uint32
	id      string
	topics  map[string]int64
}

type denyKey struct {
	keyID, topic, reason string
}

type denyCount struct {
	kek     string
	version uint32
	n       int64 // denials since the last event
}

func newAuditor(cfg auditConfig, now func() time.Time, logger *slog.Logger) *auditor {
	return &auditor{cfg: cfg, now: now, logger: logger, uses: map[string]*keyCounts{}, denies: map[denyKey]*denyCount{}}
}

func (a *auditor) enabled() bool { return a.cfg.sink != nil }

// emit stamps e with the time and principal and writes it. A sink error
// is logged and not returned, so a failing sink does not stop decryption.
func (a *auditor) emit(ctx context.Context, e audit.Event) {
	if !a.enabled() {
		return
	}
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	e.Principal = a.cfg.principal
	if err := a.cfg.sink.Write(ctx, e); err != nil {
		a.logger.Warn("kenvelope: audit event not recorded", "kind", string(e.Kind), "error", err)
	}
}

// used counts one use of the DEK that d names.
func (a *auditor) used(ctx context.Context, d envelope.Descriptor) {
	if !a.enabled() {
		return
	}
	topic := topicOf(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	k := a.uses[string(d.KeyRef)]
	if k == nil {
		k = &keyCounts{kek: d.KEKName, version: d.KEKVersion, id: keyID(d), topics: map[string]int64{}}
		a.uses[string(d.KeyRef)] = k
	}
	k.topics[topic]++
}

// keyID returns the id that audit events use for the key of d: the DEK id
// for subject scope, or the first 16 bytes of SHA-256 of the EDEK.
func keyID(d envelope.Descriptor) string {
	if d.Scope == envelope.ScopeSubject {
		return hex.EncodeToString(d.KeyRef)
	}
	sum := sha256.Sum256(d.KeyRef)
	return hex.EncodeToString(sum[:16])
}

// denyReason returns the audit reason for err, or "" when err is not a
// denial of access to a key.
func denyReason(err error) string {
	switch {
	case errors.Is(err, ErrShredded):
		return "shredded"
	case errors.Is(err, envelope.ErrAuth):
		return "auth-failed"
	case errors.Is(err, kms.ErrKeyDestroyed):
		return "key-destroyed"
	case errors.Is(err, kms.ErrKeyDisabled):
		return "key-disabled"
	case errors.Is(err, kms.ErrPermission):
		return "permission-denied"
	case errors.Is(err, kms.ErrVersionTooOld):
		return "key-version-too-old"
	case errors.Is(err, kms.ErrContextMismatch):
		return "context-mismatch"
	}
	return ""
}

// AuditDenied records that the record at topic, partition and offset,
// whose descriptor is d (nil when it could not be parsed), was refused
// with err. Errors that are not a denial of access, such as a KMS outage,
// are ignored. The first denial per key, topic and reason is written at
// once with its record position. Repeats within the same AuditInterval
// are counted and written as one event at its end. Consumers call it for every record they cannot decrypt.
func (r *Ring) AuditDenied(ctx context.Context, topic string, partition int32, offset int64, d *envelope.Descriptor, err error) {
	a := r.aud
	reason := denyReason(err)
	if !a.enabled() || reason == "" {
		return
	}
	e := audit.Event{Kind: audit.DEKDenied, Topic: topic, Record: &audit.Record{Partition: partition, Offset: offset}, Reason: reason, Count: 1}
	k := denyKey{topic: topic, reason: reason}
	if d != nil {
		e.KEK, e.KEKVersion = d.KEKName, d.KEKVersion
		k.keyID = keyID(*d)
		e.KeyIDs = []string{k.keyID}
	}
	a.mu.Lock()
	c, seen := a.denies[k]
	if !seen {
		a.denies[k] = &denyCount{kek: e.KEK, version: e.KEKVersion}
	} else {
		c.n++
	}
	a.mu.Unlock()
	if !seen {
		a.emit(ctx, e)
	}
}

// flushAudit writes the aggregated events every AuditInterval and once
// more when the Ring closes.
func (r *Ring) flushAudit() {
	defer r.done.Done()
	t := time.NewTicker(r.cfg.audit.interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.aud.flush()
			return
		case <-t.C:
			r.aud.flush()
		}
	}
}

func (a *auditor) flush() {
	a.mu.Lock()
	uses, denies := a.uses, a.denies
	a.uses = map[string]*keyCounts{}
	a.denies = map[denyKey]*denyCount{}
	a.mu.Unlock()
	ctx := context.Background()
	for _, k := range uses {
		for topic, n := range k.topics {
			a.emit(ctx, audit.Event{Kind: audit.DEKUnwrapped, Topic: topic, KEK: k.kek, KEKVersion: k.version, KeyIDs: []string{k.id}, Count: n})
		}
	}
	for k, c := range denies {
		if c.n > 0 {
			a.emit(ctx, audit.Event{Kind: audit.DEKDenied, Topic: k.topic, KEK: c.kek, KEKVersion: c.version,
				KeyIDs: nonEmpty(k.keyID), Count: c.n, Reason: k.reason})
		}
	}
}

func nonEmpty(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

// auditStreamCreated and auditRotated are called by the stream-key code.
func (r *Ring) auditStreamCreated(kekName string, version uint32, edek []byte) {
	sum := sha256.Sum256(edek)
	r.aud.emit(context.Background(), audit.Event{Kind: audit.DEKCreated, KEK: kekName, KEKVersion: version,
		KeyIDs: []string{hex.EncodeToString(sum[:16])}, Count: 1, Reason: "stream"})
}

func (r *Ring) auditRotated(kekName string, to uint32) {
	r.aud.emit(context.Background(), audit.Event{Kind: audit.KEKRotated, KEK: kekName, KEKVersion: to})
}

// AuditEvent writes e to the Ring's audit sink, stamped with the time and
// the configured principal, for steps that run outside the Ring such as a
// purge's verification. It does nothing without WithAudit.
func (r *Ring) AuditEvent(ctx context.Context, e audit.Event) { r.aud.emit(ctx, e) }
