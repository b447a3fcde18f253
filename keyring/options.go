package keyring

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/kenvelope/kenvelope/kms"
)

// Default limits and intervals. Each option's doc gives its reason.
const (
	DefaultMaxRecords     = 1 << 24
	DefaultMaxBytes       = 1 << 36
	DefaultMaxAge         = time.Hour
	DefaultRotationCheck  = time.Minute
	DefaultFailureBackoff = 100 * time.Millisecond
	DefaultCacheSize      = 4096
	DefaultCacheTTL       = 5 * time.Minute

	// MaxRecordsLimit is the hard cap on values sealed under one DEK:
	// NIST SP 800-38D allows at most 2^32 AES-GCM invocations with random
	// 96-bit nonces per key.
	MaxRecordsLimit = 1 << 32
)

// Opt configures a Ring.
type Opt interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

type config struct {
	maxRecords     uint64
	maxBytes       uint64
	maxAge         time.Duration
	rotationCheck  time.Duration
	failureBackoff time.Duration
	cacheSize      int
	cacheTTL       time.Duration
	wrapContext    kms.EncryptionContext
	verifyWraps    bool
	logger         *slog.Logger
	now            func() time.Time
	subject        subjectConfig
	audit          auditConfig
}

func defaultConfig() config {
	return config{
		maxRecords:     DefaultMaxRecords,
		maxBytes:       DefaultMaxBytes,
		maxAge:         DefaultMaxAge,
		rotationCheck:  DefaultRotationCheck,
		failureBackoff: DefaultFailureBackoff,
		cacheSize:      DefaultCacheSize,
		cacheTTL:       DefaultCacheTTL,
		wrapContext:    kms.EncryptionContext{"kenvelope": "stream-dek"},
		verifyWraps:    true,
		logger:         slog.New(slog.DiscardHandler),
		now:            time.Now,
		subject:        defaultSubjectConfig(),
		audit:          defaultAuditConfig(),
	}
}

// MaxRecords sets how many values one DEK seals before it is replaced.
// Default 2^24 (16,777,216): with random 96-bit nonces the chance of a
// repeat stays below 2^-49, far under the 2^-32 that NIST SP 800-38D
// requires, and one DEK protects a bounded share of the data. At most
// MaxRecordsLimit (2^32).
func MaxRecords(n uint64) Opt { return optFunc(func(c *config) { c.maxRecords = n }) }

// MaxBytes sets how many plaintext bytes one DEK seals before it is
// replaced. Default 2^36 (64 GiB), which bounds the data one leaked DEK
// exposes while costing one KMS call per 64 GiB.
func MaxBytes(n uint64) Opt { return optFunc(func(c *config) { c.maxBytes = n }) }

// MaxAge sets how long one DEK seals values before it is replaced.
// Default one hour: it bounds the time a DEK held in memory protects new
// data, for one KMS call per KEK per hour.
func MaxAge(d time.Duration) Opt { return optFunc(func(c *config) { c.maxAge = d }) }

// RotationCheck sets how often the Ring reads each kms.Versioned KEK's
// primary version, and replaces the active DEK when the version changed.
// It bounds the time after a KEK rotation until new records use the new
// version. Default one minute. Zero disables the check.
func RotationCheck(d time.Duration) Opt { return optFunc(func(c *config) { c.rotationCheck = d }) }

// FailureBackoff sets how long a failed wrap or unwrap is remembered, so
// that a KMS outage is not hammered by every record. Default 100ms: short
// enough that a call made once the KMS has recovered and the back-off has
// passed succeeds, with no restart.
func FailureBackoff(d time.Duration) Opt { return optFunc(func(c *config) { c.failureBackoff = d }) }

// CacheSize sets how many unwrapped DEKs the decryption cache keeps.
// Default 4096.
func CacheSize(n int) Opt { return optFunc(func(c *config) { c.cacheSize = n }) }

// CacheTTL sets how long an unwrapped DEK stays in the decryption cache.
// Default five minutes: it is the time after a KEK is destroyed during
// which cached DEKs still decrypt.
func CacheTTL(d time.Duration) Opt { return optFunc(func(c *config) { c.cacheTTL = d }) }

// WrapContext sets the encryption context bound to every stream DEK that
// the Ring wraps. It reaches the KMS's audit log, so it must not contain
// PHI. Default {"kenvelope": "stream-dek"}.
func WrapContext(ec kms.EncryptionContext) Opt {
	return optFunc(func(c *config) { c.wrapContext = ec })
}

// VerifyWraps sets whether the Ring unwraps each new wrapped DEK and
// compares it with the DEK before using it, so that a KMS returning a
// wrong wrapped key without an error fails at once rather than leaving
// records that no reader can open. Default true: it costs one unwrap per
// new DEK, and with the default limits a DEK lasts an hour or 2^24
// records, whichever ends first.
func VerifyWraps(verify bool) Opt { return optFunc(func(c *config) { c.verifyWraps = verify }) }

// WithLogger sets the logger for DEK creation, rotation and KMS failures.
// It receives KEK names, versions and counts, never keys or values.
// Default: discard.
func WithLogger(l *slog.Logger) Opt { return optFunc(func(c *config) { c.logger = l }) }

func (c *config) validate() error {
	if err := c.validateSubject(); err != nil {
		return err
	}
	switch {
	case c.maxRecords == 0 || c.maxRecords > MaxRecordsLimit:
		return fmt.Errorf("keyring: MaxRecords %d out of range, want 1 to 2^32", c.maxRecords)
	case c.maxBytes == 0:
		return fmt.Errorf("keyring: MaxBytes must be positive")
	case c.maxAge <= 0:
		return fmt.Errorf("keyring: MaxAge %v must be positive", c.maxAge)
	case c.rotationCheck < 0 || c.failureBackoff < 0 || c.cacheTTL <= 0:
		return fmt.Errorf("keyring: RotationCheck, FailureBackoff and CacheTTL must not be negative, and CacheTTL must be positive")
	case c.cacheSize <= 0:
		return fmt.Errorf("keyring: CacheSize %d must be positive", c.cacheSize)
	case c.logger == nil:
		return fmt.Errorf("keyring: WithLogger(nil)")
	}
	return nil
}
