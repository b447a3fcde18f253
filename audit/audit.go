// Package audit defines the security events that kenvelope records and the
// Sink interface that receives them. The default sink, LogSink, writes each
// event as one JSON line in the layout of log/slog's JSON handler. Its
// lines are chained by SHA-256 over their exact bytes, so Verify detects a
// deleted, inserted, reordered or altered line, and lines removed from the
// end when it is given a head recorded elsewhere (ExpectHead).
//
// Events carry times, the configured principal, topics, KEK names and key
// ids (hexadecimal DEK ids), never subject identifiers, record keys or
// values, or key bytes.
package audit

import (
	"context"
	"time"
)

// Kind names what happened.
type Kind string

// Event kinds.
const (
	// DEKCreated: a DEK was generated and wrapped.
	DEKCreated Kind = "dek.created"
	// DEKUnwrapped: DEKs were handed out for decryption. One event
	// aggregates an interval, with Count the number of records.
	DEKUnwrapped Kind = "dek.unwrapped"
	// DEKDenied: decryption was refused because authentication failed, the
	// KEK version was destroyed or disabled, the KMS denied access, or the
	// subject DEK was shredded. Reason names the cause.
	DEKDenied Kind = "dek.denied"
	// KEKRotated: a KEK's primary version changed and new DEKs use it.
	KEKRotated Kind = "kek.rotated"
	// Rewrap: stored DEKs were wrapped again under a KEK's newest version.
	Rewrap Kind = "dek.rewrapped"
	// ShredRequested: a subject's DEKs are about to be deleted.
	ShredRequested Kind = "shred.requested"
	// ShredCompleted: the deletions (tombstones) were written.
	ShredCompleted Kind = "shred.completed"
	// ShredVerified: a scan found no record of the shredded DEKs that
	// still decrypts.
	ShredVerified Kind = "shred.verified"
)

// Record locates one Kafka record.
type Record struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

// Event is one audit event. Its fields are chosen so that an event never
// holds PHI: subjects appear only as the DEK ids that were created for
// them.
type Event struct {
	Time       time.Time `json:"time"`
	Kind       Kind      `json:"kind"`
	Principal  string    `json:"principal,omitempty"`
	Topic      string    `json:"topic,omitempty"`
	Record     *Record   `json:"record,omitempty"`
	KEK        string    `json:"kek,omitempty"`
	KEKVersion uint32    `json:"kek_version,omitempty"`
	// KeyIDs are DEK ids in hexadecimal: the 16-byte id for subject keys,
	// or the first 16 bytes of SHA-256 of the EDEK for stream keys.
	KeyIDs []string `json:"key_ids,omitempty"`
	// Count is the number of records or keys the event covers.
	Count int64 `json:"count,omitempty"`
	// Reason is a short fixed word such as "shredded" or "auth-failed".
	Reason string `json:"reason,omitempty"`
}

// Sink receives audit events. Implementations are safe for concurrent use
// and return an error when the event could not be recorded.
type Sink interface {
	Write(ctx context.Context, e Event) error
}

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Write(context.Context, Event) error { return nil }
