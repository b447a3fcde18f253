package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"
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
	if err := r.checkSubjectCall(kekName, subject); err != nil {
		return Reservation{}, err
	}
	if count < 0 || size < 0 || uint64(count) > r.cfg.maxRecords || uint64(size) > r.cfg.maxBytes {
		return Reservation{}, fmt.Errorf("keyring: cannot reserve %d values of %d bytes: a DEK seals at most %d values and %d bytes",
			count, size, r.cfg.maxRecords, r.cfg.maxBytes)
	}
	hot := r.subj.hot[kekName]
	h, ok := hot.get(subject)
	if ok && h.dek.reserveN(count, size, &r.cfg, r.cfg.now()) {
		return h.dek.reservation(), nil
	}
	if !ok {
		var err error
		if h.token, err = r.subjectToken(ctx, subject); err != nil {
			return Reservation{}, err
		}
	}
	key := activeKey{h.token, kekName}
	for attempt := 0; ; attempt++ {
		s := r.subj.cache.current(key)
		if s != nil && s.reserveN(count, size, &r.cfg, r.cfg.now()) {
			hot.put(subject, hotEntry{token: h.token, dek: s})
			return s.reservation(), nil
		}
		if attempt == 3 {
			return Reservation{}, fmt.Errorf("keyring: no usable subject DEK for KEK %q after %d attempts", kekName, attempt)
		}
		// As in SealSubject, ErrShredded means a Shred deleted the DEK
		// that the resolve read or created.
		if _, err := r.resolveSubject(ctx, key, s, topicOf(ctx)); err != nil && !errors.Is(err, ErrShredded) {
			return Reservation{}, err
		}
	}
}

func (s *subjectDEK) reservation() Reservation {
	return Reservation{dek: s.dek, descs: &s.descs}
}

// reserveN is reserve for count values of n bytes in all. Unlike reserve
// it counts nothing for a count of zero, but still fails on a DEK that is
// dead, exhausted, expired or too old.
func (s *subjectDEK) reserveN(count, n int, c *config, now time.Time) bool {
	if s.dead.Load() || s.exhausted.Load() || now.UnixNano() >= s.expires.Load() {
		return false
	}
	if now.Sub(s.entry.Created) >= c.subject.maxAge {
		s.exhausted.Store(true)
		return false
	}
	if s.records.Add(uint64(count)) > c.maxRecords || s.bytes.Add(uint64(n)) > c.maxBytes {
		s.exhausted.Store(true)
		return false
	}
	return true
}
