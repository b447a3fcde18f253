// Package kenvelope is client-side envelope encryption for Apache Kafka
// records, built on franz-go, for services that handle protected health
// information (PHI). Brokers, replicas, mirrors, connectors and backups only
// ever see ciphertext; keys stay in a KMS or HSM.
//
// # Key hierarchy
//
// A key-encryption key (KEK) lives in a KMS (package kms and its backends)
// and never leaves it. Data-encryption keys (DEKs) are 256-bit AES keys made
// locally from crypto/rand and stored only wrapped by a KEK (EDEKs).
// Package keyring creates, limits, rotates and caches DEKs; package
// envelope seals values with AES-256-GCM; package kafka puts both between
// an application and its *kgo.Client.
//
// # Wire format
//
// An encrypted record carries one header named "kenvelope" whose value is a
// versioned binary descriptor: algorithm, scope, payload kind, the KEK's
// logical name and version, and the EDEK. The value becomes a 4-byte
// binding check, a 12-byte random nonce, the ciphertext and a 16-byte tag.
// The associated data binds the value to the descriptor, the topic and the
// record key, so a record copied to another topic or key fails to decrypt.
// Package envelope documents the layout byte by byte.
//
// # Threat model
//
// kenvelope protects record values from anyone who can read Kafka's data
// but cannot use the KEK: broker operators, backups, mirrors, disks. It
// detects values that were altered, moved between topics or keys, or given
// a forged descriptor. It does not hide record keys, header names, topic
// names, sizes or timing, and it does not protect against a compromised
// producer or consumer process, which holds DEKs in memory.
//
// # Choosing a mode
//
// Stream keys (the default) put the EDEK in every record, so records are
// self-contained and a KMS call happens once per DEK, not per record.
// Destroying the KEK makes every record under it unreadable, once consumers'
// cached DEKs expire (keyring.CacheTTL, five minutes by default).
package kenvelope
