package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
)

// ErrHeadersWithoutDescriptor is returned by a Consumer for a record with
// an encrypted header value but no descriptor header to open it with.
var ErrHeadersWithoutDescriptor = errors.New("record has encrypted header values but no kenvelope header")

// EncryptHeaders makes a Producer encrypt the values of the headers with
// the given names. Each such value becomes fields.Marker followed by the
// base64 of the value sealed under the record's DEK, bound to the header's
// name and its occurrence among headers of that name. Other headers, and
// the order and duplicates of all headers, are left as they are. A
// Consumer opens every header value that starts with the marker, whether
// or not it names the header, and with this option also fails a record
// whose named header is in clear. A null value carries nothing to hide:
// the Producer leaves it null and the Consumer accepts it. A record with
// sealed header values carries an integrity tag over them (see Fields),
// so a sealed value deleted, reordered or taken from another record fails
// the record with ErrRecordTag. Default: no header is encrypted.
func EncryptHeaders(names ...string) RecordOpt {
	return recordOpt(func(e *extConfig) {
		if e.headers == nil {
			e.headers = map[string]bool{}
		}
		for _, n := range names {
			e.headers[n] = true
		}
	})
}

// headerPath is the path a header value is bound to: its name and its
// occurrence among headers of that name, as in "x-patient-id[0]". Header
// values are sealed under the PayloadHeader descriptor, so this path
// cannot be confused with a field path of the record value.
func headerPath(name string, occurrence int) string {
	return fields.FormatSegments([]fields.Segment{{Kind: fields.Member, Name: name}, {Kind: fields.Index, Index: occurrence}})
}

// headerWork lists, for each header of a record, whether it is to be
// sealed (producer) or opened (consumer), with its bound path.
type headerWork struct {
	index int
	path  string
}

// headersToSeal returns the headers the producer seals, and rejects a
// header it does not seal whose value starts with the marker, since a
// consumer would take it for ciphertext.
func (e *extConfig) headersToSeal(hs []kgo.RecordHeader) ([]headerWork, int, error) {
	var work []headerWork
	size := 0
	seen := map[string]int{}
	for i, h := range hs {
		n := seen[h.Key]
		seen[h.Key] = n + 1
		if !e.headers[h.Key] || h.Value == nil {
			// A null value carries nothing to hide and stays null.
			if fields.HasMarker(h.Value) {
				return nil, 0, fmt.Errorf("header %q: %w", h.Key, fields.ErrMarkerInClear)
			}
			continue
		}
		work = append(work, headerWork{index: i, path: headerPath(h.Key, n)})
		size += len(h.Value)
	}
	return work, size, nil
}

// sealHeaders returns a copy of hs with the values in work sealed by dek
// under the header descriptor desc.
func sealHeaders(hs []kgo.RecordHeader, work []headerWork, dek *envelope.DEK, desc []byte, topic string, key []byte) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, len(hs), len(hs)+2)
	copy(out, hs)
	for _, w := range work {
		b := envelope.Binding{Topic: topic, Key: key, Path: w.path}
		sealed := dek.Seal(nil, hs[w.index].Value, desc, b)
		out[w.index].Value = fields.AppendMarked(make([]byte, 0, fields.MarkedLen(len(hs[w.index].Value))), sealed)
	}
	return out
}

// sealedHeader reports whether h is a sealed header value: one that
// starts with the marker, in a header other than the descriptor and tag
// headers, whose binary values could start with the same bytes.
func sealedHeader(h kgo.RecordHeader) bool {
	return h.Key != envelope.HeaderName && h.Key != envelope.TagHeaderName && fields.HasMarker(h.Value)
}

// hasSealedHeader reports whether hs holds a sealed header value.
func hasSealedHeader(hs []kgo.RecordHeader) bool {
	for _, h := range hs {
		if sealedHeader(h) {
			return true
		}
	}
	return false
}

// openHeaders returns a copy of hs without the descriptor and tag headers
// and with every sealed value opened under the header descriptor. A
// header that EncryptHeaders names must be sealed or null: the producer
// leaves a null value null, as it carries nothing to hide.
func (e *extConfig) openHeaders(hs []kgo.RecordHeader, open func(sealed []byte, path string) ([]byte, error)) ([]kgo.RecordHeader, error) {
	out := make([]kgo.RecordHeader, 0, len(hs))
	seen := map[string]int{}
	for _, h := range hs {
		if h.Key == envelope.HeaderName || h.Key == envelope.TagHeaderName {
			continue
		}
		n := seen[h.Key]
		seen[h.Key] = n + 1
		if !sealedHeader(h) {
			if e.headers[h.Key] && h.Value != nil {
				return nil, fmt.Errorf("header %q: %w", h.Key, fields.ErrNotEncrypted)
			}
			out = append(out, h)
			continue
		}
		path := headerPath(h.Key, n)
		sealed, err := fields.DecodeMarked(nil, h.Value)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", h.Key, err)
		}
		plain, err := open(sealed, path)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", h.Key, err)
		}
		out = append(out, kgo.RecordHeader{Key: h.Key, Value: plain})
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
