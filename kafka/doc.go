// Package kafka encrypts Kafka record values on their way into franz-go and
// decrypts them on their way out.
//
// A Producer wraps a *kgo.Client: it seals each record value under the
// keyring's active DEK, adds the descriptor header (envelope.HeaderName)
// and hands the record to franz-go, so plaintext never reaches the client's
// buffers. When encryption fails the record fails through its promise and
// nothing is sent.
//
// A Consumer wraps a *kgo.Client that consumes: Poll returns records whose
// values are decrypted and whose descriptor header is removed. A record
// that cannot be decrypted is never returned as if it were plaintext; the
// consumer's policy decides what happens to it (see OnDecryptError).
//
// With Fields or EncryptHeaders, only the selected values are sealed, and
// each record also carries a header named envelope.TagHeaderName: an
// AES-GCM tag over the stored value and the sealed headers. The consumer
// checks it before opening any field, so a record whose clear fields were
// edited, or whose sealed fields were removed or copied from another
// record, fails as a whole.
package kafka
