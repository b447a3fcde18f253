package keyring

import (
	"context"

	"github.com/kenvelope/kenvelope/envelope"
)

type topicKey struct{}

// WithTopic returns a context that names the record topic for the audit
// events of DEK and Open, which aggregate DEK uses per key and topic.
func WithTopic(ctx context.Context, topic string) context.Context {
	return context.WithValue(ctx, topicKey{}, topic)
}

func topicOf(ctx context.Context) string {
	t, _ := ctx.Value(topicKey{}).(string)
	return t
}

// DEK returns the DEK that d names: for stream scope from the cache or by
// unwrapping the EDEK, for subject scope from the subject cache or the key
// store. A subject DEK that the store no longer holds fails with a
// *ShreddedError.
func (r *Ring) DEK(ctx context.Context, d envelope.Descriptor) (*envelope.DEK, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	var (
		dek *envelope.DEK
		err error
	)
	if d.Scope == envelope.ScopeSubject {
		dek, err = r.subjectDEK(ctx, d)
	} else {
		dek, err = r.streamDEK(ctx, d)
	}
	if err == nil {
		r.aud.used(ctx, d)
	}
	return dek, err
}
