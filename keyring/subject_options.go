package keyring

import (
	"fmt"
	"time"

	"github.com/kenvelope/kenvelope/audit"
)

// Defaults for subject keys and audit events.
const (
	DefaultSubjectCacheSize = 1 << 16
	DefaultSubjectCacheTTL  = 5 * time.Second
	DefaultSubjectKeyMaxAge = 30 * 24 * time.Hour
	DefaultAuditInterval    = time.Minute
)

type subjectConfig struct {
	store     KeyStore
	tokenKEK  string
	cacheSize int
	cacheTTL  time.Duration
	maxAge    time.Duration
}

type auditConfig struct {
	sink      audit.Sink
	principal string
	interval  time.Duration
}

func defaultSubjectConfig() subjectConfig {
	return subjectConfig{cacheSize: DefaultSubjectCacheSize, cacheTTL: DefaultSubjectCacheTTL, maxAge: DefaultSubjectKeyMaxAge}
}

func defaultAuditConfig() auditConfig { return auditConfig{interval: DefaultAuditInterval} }

// WithKeyStore sets the store of subject DEKs, which enables SealSubject,
// Shred and subject-scope decryption. Every process that shares subjects
// must use the same store. Default: none.
func WithKeyStore(s KeyStore) Opt { return optFunc(func(c *config) { c.subject.store = s }) }

// TokenKEK names the KEK that wraps the token key when this Ring is the
// first to create it. Later Rings unwrap it with whichever KEK the store
// names, so they must be configured with that KEK too. Default: the first
// KEK given to New.
func TokenKEK(name string) Opt { return optFunc(func(c *config) { c.subject.tokenKEK = name }) }

// SubjectCacheSize sets how many subject DEKs the Ring keeps unwrapped, for
// sealing and for opening. The Ring also keeps the usage counts of as many
// DEKs evicted after sealing (at least 4,096, about 60 bytes each), so
// that MaxRecords and MaxBytes hold when an evicted DEK is used again.
// Default 65,536.
func SubjectCacheSize(n int) Opt { return optFunc(func(c *config) { c.subject.cacheSize = n }) }

// SubjectCacheTTL sets how long a cached subject DEK is used before the
// Ring checks the key store again that it still exists. The check reads
// the store's local view and makes no KMS call. A Ring drops a DEK as
// soon as its store reports the deletion. A Ring whose store misses the
// report stops opening with the DEK at the latest SubjectCacheTTL plus the
// store's staleness bound after Shred returned. With kafkastore that bound
// is MaxLag, so 10 seconds with both defaults. Sealing may go on a little
// longer, because SealSubject and ReserveSubject read a clock that a
// goroutine steps every sixteenth of SubjectCacheTTL (1 to 50 ms). The
// extra time is one step plus however late the Go scheduler runs that
// goroutine, up to about 110 ms in all with both cores of a 2-core
// machine busy sealing.
// Default five seconds.
func SubjectCacheTTL(d time.Duration) Opt { return optFunc(func(c *config) { c.subject.cacheTTL = d }) }

// SubjectKeyMaxAge sets how long one subject DEK seals records before the
// next record creates a new one (a new generation). It sets the
// granularity of ShredBefore: a retention purge can remove only DEKs that
// were replaced before its cut-off. Default 30 days.
func SubjectKeyMaxAge(d time.Duration) Opt { return optFunc(func(c *config) { c.subject.maxAge = d }) }

// WithAudit sets the sink for audit events: DEK creation, use, denial,
// KEK rotation, rewrap and shredding. audit.NewLogSink writes hash-chained
// JSON lines to a writer of its own. Default: no audit events.
func WithAudit(s audit.Sink) Opt { return optFunc(func(c *config) { c.audit.sink = s }) }

// Principal sets the identity recorded in every audit event, such as the
// service account the process runs as. Default: empty.
func Principal(p string) Opt { return optFunc(func(c *config) { c.audit.principal = p }) }

// AuditInterval sets how often the counts of DEK uses and repeated denials
// are written as aggregated audit events. Default one minute.
func AuditInterval(d time.Duration) Opt { return optFunc(func(c *config) { c.audit.interval = d }) }

func (c *config) validateSubject() error {
	switch {
	case c.subject.cacheSize <= 0:
		return fmt.Errorf("keyring: SubjectCacheSize %d must be positive", c.subject.cacheSize)
	case c.subject.cacheTTL <= 0 || c.subject.maxAge <= 0:
		return fmt.Errorf("keyring: SubjectCacheTTL and SubjectKeyMaxAge must be positive")
	case c.audit.interval <= 0:
		return fmt.Errorf("keyring: AuditInterval %v must be positive", c.audit.interval)
	}
	return nil
}
