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
// whose DEK is cached still decrypt; a destroyed KEK stops decryption of
// cached DEKs only when their TTL expires, which is why the default TTL is
// minutes, not hours.
package keyring
