// Package envelope seals and opens Kafka record values with AES-256-GCM and
// encodes the record descriptor from which a reader learns how to open
// them. It is pure: no I/O, no KMS, no Kafka.
//
// # Descriptor
//
// Every encrypted record carries one header named HeaderName whose value is
// a binary descriptor, version 1, laid out as:
//
//	offset  size  field
//	0       1     format version, 1 (zero is invalid)
//	1       1     algorithm, 1 = AES-256-GCM (zero is invalid)
//	2       1     scope, 1 = stream key (EDEK inline), 2 = subject key (DEK id)
//	3       1     payload, 1 = whole value, 2 = JSON fields, 3 = Avro fields,
//	              4 = Protobuf fields, 5 = header value
//	4       1     flags, must be zero
//	5       1     KEK name length n, 1 to 255
//	6       n     KEK name, printable ASCII
//	6+n     4     KEK version, big-endian (zero: the KMS exposes no versions)
//	10+n    2     key reference length m, big-endian
//	12+n    m     key reference: the EDEK (1 to 2048 bytes) for stream scope,
//	              or the 16-byte DEK id for subject scope
//
// Parse checks each length against the bytes that remain before it slices,
// and rejects trailing bytes, so a descriptor has exactly one encoding.
//
// # Sealed value
//
// A sealed value is
//
//	binding check (4) || nonce (12) || ciphertext || tag (16)
//
// The nonce is random, so one DEK must seal at most 2^32 values (the
// keyring enforces this). The associated data is a short domain string,
// the descriptor bytes up to the key reference, the topic, the record key
// (a nil key and an empty key differ) and, for field encryption, the field
// path, each variable part prefixed by its length as an unsigned varint. A value moved to another topic, key or field therefore fails to
// open. The key reference itself is not in the associated data: it selects
// the DEK, so an altered one yields no DEK or a wrong one, and opening
// fails all the same.
//
// The binding check is a CRC-32C of the topic, key and path. It is not a
// security mechanism: the AEAD tag authenticates all of them. It only lets
// Open tell a record copied to another topic or key (ErrBindingMismatch)
// from one whose bytes were altered (ErrAuth). It reveals nothing that the
// record does not already show in clear, because the topic and key travel
// unencrypted beside it.
package envelope
