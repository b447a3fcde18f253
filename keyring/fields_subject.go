package keyring

import (
	"context"
	"fmt"
)

// ReserveSubject counts count values of size plaintext bytes in all
// against the current DEK of subject under the named KEK, and returns
// that DEK. When the values would exceed one of the DEK's limits, the
// subject first moves to its next generation. The descriptors of the
// Reservation have subject scope and carry the DEK id, so Shred of the
// subject reaches every value sealed under it.
//
// subject is PHI and is handled as in SealSubject. The topic that
// WithTopic puts in ctx names the topic in the audit event for a new
// DEK. Like SealSubject, ReserveSubject makes no KMS call and no key-store
// round trip when the subject's DEK is cached, and returns ErrQuarantined
// for a quarantined subject.
func (r *Ring) ReserveSubject(ctx context.Context, kekName string, subject []byte, count, size int) (Reservation, error) {
	hot, err := r.subjectCall(kekName, subject)
	if err != nil {
		return Reservation{}, err
	}
	if count < 0 || size < 0 || uint64(count) > r.cfg.maxRecords || uint64(size) > r.cfg.maxBytes {
		return Reservation{}, fmt.Errorf("keyring: cannot reserve %d values of %d bytes: a DEK seals at most %d values and %d bytes",
			count, size, r.cfg.maxRecords, r.cfg.maxBytes)
	}
	h := hot.get(subject)
	if h != nil && h.reserve(count, size, &r.cfg, r.subj.clock.now()) {
		return h.reservation(), nil
	}
	s, err := r.reserveSlow(ctx, hot, kekName, subject, h, count, size, topicOf(ctx))
	if err != nil {
		return Reservation{}, err
	}
	return s.reservation(), nil
}

func (s *subjectDEK) reservation() Reservation {
	return Reservation{dek: s.dek, descs: &s.descs}
}
