// Package kafkastore keeps a keyring.KeyStore in a compacted Kafka topic,
// shared by every producer and consumer process of a deployment.
//
// # Records
//
// Each stored key has a create record keyed by 'd' followed by its
// 16-byte DEK id, with a binary value (see codec.go) that holds the KEK
// name and version, the wrapped key, the subject token, the generation
// and times. Rewrap writes the new wrapping as a rewrap record keyed by
// 'w' and the id, which names the offset of the create record. Deleting
// (shredding) a key writes a tombstone (a nil value) for its 'd' key and
// then for its 'w' key. A quarantined subject has a record keyed by 'q'
// and its token. One record keyed 'm' on partition 0 holds the partition
// count the store was created with. The subject identifier never
// appears; the wrapped keys are never unwrapped here.
//
// All records of one subject go to the partition that its token selects
// modulo the partition count, so that they are ordered. For that reason
// partitions must never be added to the topic. Open rejects a topic whose
// count differs from its 'm' record, and a running Store whose lag check
// finds the count changed fails closed (see PartitionCountError). When two processes
// create a key for the same slot (subject, KEK and generation) at once,
// the create record with the lower offset wins in every process, and the
// loser deletes its own.
//
// # Deletion is final
//
// A reader applies a rewrap record only to the live entry whose create
// record is at the offset it names, and ignores a create record for an id
// whose tombstone it has read. So no record written after a tombstone,
// such as a rewrap by a process that had not read the tombstone yet,
// brings a shredded key back, and a rewrap record left without its create
// record by compaction stands for nothing. Compaction keeps the latest
// record of each key, so a create record is never replaced by its
// rewraps and survives until its tombstone.
//
// # Reading
//
// Open reads the topic from the start into memory and keeps following
// it, so lookups cost no round trip and a tombstone reaches subscribers
// (the keyring's caches) as soon as it is fetched. A write returns only
// after this Store has read it back. Every LagCheck the Store lists the
// topic's end offsets and waits until it has read up to them. The time
// it listed them is then its last confirmed catch-up. When that is more than
// MaxLag ago, reads fail with keyring.ErrStoreStale, so a process cut off
// from the topic stops using subject keys instead of missing a shred.
//
// A deletion written when Shred returns is therefore read by every Store,
// or makes it fail closed, within MaxLag. A Ring with the key cached
// checks it against its Store every SubjectCacheTTL, so it stops using a
// shredded key at the latest SubjectCacheTTL plus MaxLag after Shred
// returned: 10 seconds with the defaults of both packages, and for a
// sealing Ring up to about 110 ms more (see keyring.SubjectCacheTTL). A
// Store that reads normally applies the tombstone within a fetch round
// trip.
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
