package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
)

var (
	// ErrRecordTag is wrapped by the error for a record whose integrity
	// tag (the envelope.TagHeaderName header) is missing, duplicated or
	// does not verify. A Consumer requires the tag on every record with
	// sealed fields or sealed header values. A Producer returns it for a
	// record that already carries the header. The error for a tag that
	// does not verify also wraps envelope.ErrAuth, and
	// envelope.ErrBindingMismatch when the tag was made for another topic
	// or key.
	ErrRecordTag = errors.New("invalid record integrity tag")

	// ErrFieldsWithoutDescriptor is returned by a Consumer configured with
	// Fields for a record that has no descriptor header but whose value
	// contains sealed fields: the header was stripped on the way.
	ErrFieldsWithoutDescriptor = errors.New("record value contains sealed fields but has no kenvelope header")
)

// findTag returns the index of the tag header in hs, or -1, and an error
// wrapping ErrRecordTag if there are two or more.
func findTag(hs []kgo.RecordHeader) (int, error) {
	at := -1
	for i := range hs {
		if hs[i].Key != envelope.TagHeaderName {
			continue
		}
		if at >= 0 {
			return -1, fmt.Errorf("%w: more than one %s header", ErrRecordTag, envelope.TagHeaderName)
		}
		at = i
	}
	return at, nil
}

// tagParts returns what a record's tag covers: the stored value, then the
// name and value of each sealed header, in order.
func tagParts(value []byte, hs []kgo.RecordHeader) [][]byte {
	parts := make([][]byte, 1, 1+2*len(hs))
	parts[0] = value
	for _, h := range hs {
		if sealedHeader(h) {
			parts = append(parts, []byte(h.Key), h.Value)
		}
	}
	return parts
}

// tagRequired reports whether a record with payload kind p and headers hs
// must carry a tag: the producer tags every record with sealed fields or
// sealed header values.
func tagRequired(p envelope.Payload, hs []kgo.RecordHeader) bool {
	return (p != envelope.PayloadValue && p != envelope.PayloadHeader) || hasSealedHeader(hs)
}

// checkTag verifies the tag of raw, whose descriptor o holds, before
// anything of raw is opened. A tag that is present is verified even when
// none is required, because the producer writes one only where it is: a
// whole-value record with a tag has lost its sealed headers.
func (o *recordOpener) checkTag(raw *kgo.Record, p envelope.Payload) error {
	at, err := findTag(raw.Headers)
	if err != nil {
		return err
	}
	if at < 0 {
		if tagRequired(p, raw.Headers) {
			return fmt.Errorf("%w: no %s header on a record with sealed fields or headers", ErrRecordTag, envelope.TagHeaderName)
		}
		return nil
	}
	tag, parts := raw.Headers[at].Value, tagParts(raw.Value, raw.Headers)
	err = o.dek.CheckTag(tag, o.desc, envelope.Binding{Topic: o.topic, Key: o.key}, parts...)
	if errors.Is(err, envelope.ErrBindingMismatch) && o.alias != "" {
		err = o.dek.CheckTag(tag, o.desc, envelope.Binding{Topic: o.alias, Key: o.key}, parts...)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRecordTag, err)
	}
	return nil
}
