// Package kafkastore keeps a keyring.KeyStore in a compacted Kafka topic,
// shared by every producer and consumer process of a deployment.
//
// # Records
//
// Each stored key is one record keyed by 'd' followed by its 16-byte DEK
// id, with a binary value (see codec.go) that holds the KEK name and
// version, the wrapped key, the subject token, the generation and times.
// Deleting (shredding) a key writes a tombstone: the same key with a nil
// value. A quarantined subject has a record keyed by 'q' and its token.
// The subject identifier never appears; the wrapped keys are never
// unwrapped here.
//
// All records of one subject go to the partition its token selects, so
// that they are ordered. When two processes create a key for the same
// slot (subject, KEK and generation) at once, the record with the lower
// offset wins in every process, and the loser deletes its own. A rewrap
// record carries the offset of the entry's first record, so the order
// survives compaction.
//
// # Reading
//
// Open reads the topic from the start into memory and keeps following
// it, so lookups cost no round trip and a tombstone reaches subscribers
// (the keyring's caches) as soon as it is fetched. A write returns only
// after this Store has read it back. Every LagCheck the Store compares
// its position with the topic's end offsets; when it cannot confirm
// within MaxLag that it is current, reads fail with
// keyring.ErrStoreStale, so a process cut off from the topic stops using
// subject keys instead of missing a shred.
//
// # Compaction
//
// Open creates a missing topic with TopicConfigs: cleanup.policy=compact,
// min.cleanable.dirty.ratio=0.01, segment.ms=600000 (10 minutes),
// max.compaction.lag.ms=900000 (15 minutes), min.compaction.lag.ms=0 and
// delete.retention.ms=86400000 (one day). Kafka never cleans the active
// segment, so a shredded key's wrapped form stays on the brokers' disks
// until its segment rolls and the cleaner runs: with these settings about
// 25 minutes, plus the cleaner's own schedule. Residue reports the ids
// still in that state. Open rejects an existing topic whose
// cleanup.policy is not compact, because deletion by time or size would
// lose live keys.
package kafkastore
