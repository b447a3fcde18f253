// Package keyring manages the life of data-encryption keys (DEKs): it
// creates them, has a KEK wrap them, reuses them within limits, replaces
// them when a limit is reached or the KEK rotates, and caches unwrapped
// DEKs for decryption.
//
// # Stream keys
//
// For each KEK a Ring keeps one active DEK. Every Seal reserves one nonce
// and the value's bytes against that DEK's limits with atomic counters, so
// the steady state makes no KMS call and takes no lock. When a limit is
// reached the next Seal creates a new DEK and wraps it, one KMS request per
// KEK however many goroutines are waiting. The wrapped DEK (EDEK) travels in
// each record's descriptor, so records are self-contained.
//
// Only encryptions that happen count against a limit: a value rejected
// before sealing reserves nothing.
//
// # Failures
//
// A failed wrap is remembered for FailureBackoff only, so a KMS outage makes
// Seal fail fast and closed (nothing is sealed, nothing is queued) and the
// first call after the KMS recovers and the back-off ends succeeds. Wrap
// KEKs in kms.Retry for retries within one call.
//
// # Decryption
//
// Open unwraps the EDEK of a descriptor once and keeps the DEK in a bounded
// LRU cache with a TTL, keyed by the EDEK. While a KMS is down, records
// whose DEK is cached still decrypt. A destroyed KEK stops decryption of
// cached DEKs only when their TTL expires, which is why the default TTL is
// minutes, not hours.
//
// # Subject keys
//
// With WithKeyStore, SealSubject seals under one DEK per data subject (a
// patient) and KEK, kept wrapped by the KEK in a KeyStore that every
// process shares (MemoryStore, or keyring/kafkastore on a compacted
// topic). The descriptor carries only the DEK's random 16-byte id. The
// subject identifier is turned into a token, HMAC-SHA-256 under a token
// key that is itself wrapped by a KEK and kept in the store, so the store
// holds no identifier. When two processes create a subject's DEK at once,
// both use the one the store ordered first.
//
// Shred deletes a subject's DEKs. This Ring forgets them at once; other
// Rings forget them when their store reports the deletion, and at the
// latest after SubjectCacheTTL plus the store's staleness bound (a little
// longer for sealing, see SubjectCacheTTL), because a cached subject DEK
// is checked against the store every SubjectCacheTTL and a store that
// cannot confirm it is current fails closed. Records
// sealed under a shredded DEK then fail with *ShreddedError. Quarantine
// stops sealing for a subject, ShredBefore shreds replaced generations
// (retention), and Rewrap wraps every stored key under the KEK's newest
// version without touching records.
//
// # Audit
//
// With WithAudit, the Ring writes audit events (package audit): DEK
// creation, KEK rotation, rewrap and shredding at once, DEK uses and
// repeated denials aggregated per AuditInterval. Events carry key ids,
// KEK names, topics and the Principal, never subject identifiers.
package keyring
