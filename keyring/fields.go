package keyring

import (
	"context"
	"fmt"

	"github.com/kenvelope/kenvelope/envelope"
)

// Reservation is the active stream DEK of one KEK (Reserve) or the
// current DEK of one subject (ReserveSubject) with a number of seals
// already counted against its limits. Field encryption seals every field
// and header of one record under one Reservation, so that they share one
// DEK and the one descriptor the record carries.
type Reservation struct {
	dek   *envelope.DEK
	descs *[envelope.PayloadHeader + 1][]byte
}

// DEK returns the reserved DEK. The caller seals with it at most the
// count of values given to Reserve.
func (v Reservation) DEK() *envelope.DEK { return v.dek }

// Descriptor returns the encoded descriptor of the reserved DEK for
// payload kind p. It is shared and must not be modified.
func (v Reservation) Descriptor(p envelope.Payload) []byte { return v.descs[p] }

// Reserve counts count values of size plaintext bytes in all against the
// active DEK of the named KEK, replacing the DEK first when they would
// exceed one of its limits, and returns the DEK. Count may be zero, to
// learn the descriptor of a record that seals nothing. Like Seal, Reserve
// makes a KMS call only when it must create a DEK.
func (r *Ring) Reserve(ctx context.Context, kekName string, count, size int) (Reservation, error) {
	if r.closed.Load() {
		return Reservation{}, ErrClosed
	}
	s := r.slot(kekName)
	if s == nil {
		return Reservation{}, &UnknownKEKError{Name: kekName}
	}
	if count < 0 || size < 0 || uint64(count) > r.cfg.maxRecords || uint64(size) > r.cfg.maxBytes {
		return Reservation{}, fmt.Errorf("keyring: cannot reserve %d values of %d bytes: a DEK seals at most %d values and %d bytes",
			count, size, r.cfg.maxRecords, r.cfg.maxBytes)
	}
	for {
		a := s.cur.Load()
		if a != nil && a.reserveN(count, size, &r.cfg) {
			return Reservation{dek: a.dek, descs: &a.descs}, nil
		}
		if _, err := r.replace(ctx, kekName, s, a); err != nil {
			return Reservation{}, err
		}
	}
}

// reserveN is reserve for count values of n bytes in all. A retired DEK
// holds retiredMark in records, so even a count of zero fails on it.
func (a *activeDEK) reserveN(count, n int, c *config) bool {
	if a.records.Add(uint64(count)) > c.maxRecords {
		return false
	}
	if a.bytes.Add(uint64(n)) > c.maxBytes {
		a.records.Store(retiredMark)
		return false
	}
	return true
}
