package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
)

// findDescriptor returns the index of the descriptor header in hs, or -1,
// and ErrDuplicateHeader if there are two or more.
func findDescriptor(hs []kgo.RecordHeader) (int, error) {
	at := -1
	for i := range hs {
		if hs[i].Key != envelope.HeaderName {
			continue
		}
		if at >= 0 {
			return -1, ErrDuplicateHeader
		}
		at = i
	}
	return at, nil
}

// withoutHeader returns a copy of hs without the header at index i,
// keeping the order of the others.
func withoutHeader(hs []kgo.RecordHeader, i int) []kgo.RecordHeader {
	if len(hs) == 1 {
		return nil
	}
	out := make([]kgo.RecordHeader, 0, len(hs)-1)
	out = append(out, hs[:i]...)
	return append(out, hs[i+1:]...)
}

// headersSize is the number of bytes hs adds to a record, counting names
// and values.
func headersSize(hs []kgo.RecordHeader) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
