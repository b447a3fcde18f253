package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
)

// ErrNoSubject is returned by a Producer with SubjectFunc for a record
// whose subject function returned an empty identifier. Such a record is
// not sent: under a stream key it could not be shredded with its subject.
var ErrNoSubject = errors.New("subject function returned no subject for the record")

// SubjectFunc makes the Producer seal each record value under the DEK of
// the record's data subject (keyring.Ring.SealSubject) instead of a stream
// DEK, so that keyring.Ring.Shred of that subject makes exactly its
// records unreadable. subject returns the identifier, such as the FHIR
// patient reference or the record key. The identifier is PHI: the keyring
// replaces it with a keyed token, and the Producer never logs it or puts
// it in an error. The Producer's keyring needs keyring.WithKeyStore.
// With Fields, KeyTokens or EncryptHeaders, the sealed fields, sealed
// headers and tag of a record are all sealed under its subject's DEK
// (keyring.Ring.ReserveSubject). Default: stream keys.
func SubjectFunc(subject func(r *kgo.Record) ([]byte, error)) ProducerOpt {
	return producerOptFunc(func(c *producerConfig) { c.subject = subject })
}

// SubjectKey is a SubjectFunc that uses the record key as the subject.
func SubjectKey() ProducerOpt {
	return SubjectFunc(func(r *kgo.Record) ([]byte, error) { return r.Key, nil })
}

// seal seals r's value under a stream DEK of kek, or under its subject's
// DEK when SubjectFunc is set.
func (p *Producer) seal(ctx context.Context, kek string, r *kgo.Record) (desc, sealed []byte, err error) {
	b := envelope.Binding{Topic: r.Topic, Key: r.Key}
	if p.cfg.subject == nil {
		return p.ring.Seal(ctx, kek, envelope.PayloadValue, nil, r.Value, b)
	}
	subject, err := p.recordSubject(r)
	if err != nil {
		return nil, nil, err
	}
	return p.ring.SealSubject(ctx, kek, subject, envelope.PayloadValue, nil, r.Value, b)
}

// recordSubject returns the subject of r, or nil when the Producer has no
// SubjectFunc.
func (p *Producer) recordSubject(r *kgo.Record) ([]byte, error) {
	if p.cfg.subject == nil {
		return nil, nil
	}
	subject, err := p.cfg.subject(r)
	if err != nil {
		return nil, fmt.Errorf("subject function: %w", err)
	}
	if len(subject) == 0 {
		return nil, ErrNoSubject
	}
	return subject, nil
}

// decryptError builds the *RecordError for a record that failed to
// decrypt, naming the DEK id for subject keys, and records an audit event
// when the failure is a denial of access.
func (c *Consumer) decryptError(ctx context.Context, raw *kgo.Record, d *envelope.Descriptor, err error) *RecordError {
	e := &RecordError{Op: "decrypt", Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Err: err}
	if d != nil {
		e.KEKName, e.KEKVersion = d.KEKName, d.KEKVersion
		if d.Scope == envelope.ScopeSubject {
			e.DEKID = fmt.Sprintf("%x", d.KeyRef)
		}
	}
	c.ring.AuditDenied(ctx, raw.Topic, raw.Partition, raw.Offset, d, err)
	return e
}
