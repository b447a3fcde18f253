// Package tokens replaces Kafka record keys with deterministic tokens, so
// that a key such as a patient identifier never sits in clear on the
// broker. Equal keys still produce equal tokens, so records of one patient
// land in the same partition and keep their order, and log compaction
// still keeps the latest record per key.
//
// Two modes:
//
//   - SIV: AES-SIV (RFC 5297) through tink-go's deterministic AEAD. The
//     token is the deterministic ciphertext of the key, so a consumer with
//     the same keyset recovers the original key. A token is 16 bytes longer
//     than the key, plus Tink's 5-byte key id prefix for keysets whose keys
//     use the TINK output prefix.
//   - HMAC: HMAC-SHA-256 of the key, 32 bytes. The original key cannot be
//     recovered; use it when consumers only need to group or join.
//
// Deterministic encryption reveals which records share a key, by design,
// and nothing else about the key beyond its length (SIV) or nothing at all
// (HMAC). Tokens are bound to a fixed domain string and an optional
// context (see Context) but not to the topic, so one key has one token in
// every topic that uses the same tokenizer and topics can be joined on it.
//
// Tokens stay stable only while the token key stays the same: a new
// primary key in the keyset changes every token, which moves keys to
// other partitions and splits compaction between old and new tokens.
// Rotate the token key only together with a re-keyed copy of the topic.
package tokens
