package kafkastore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/keyring"
)

func testEntry() keyring.Entry {
	return keyring.Entry{ID: keyring.DEKID{1, 2, 3}, Kind: keyring.KindSubjectDEK, Token: keyring.Token{9}, KEKName: "patients",
		KEKVersion: 1, EDEK: []byte("wrapped-1"), Generation: 1,
		Created: time.Unix(1_700_000_000, 123_456_789), Wrapped: time.Unix(1_700_000_000, 123_456_789)}
}

func newIndex() *index {
	var x index
	x.init(16)
	return &x
}

// record returns the record at offset off with key and value.
func record(off int64, key, value []byte) *kgo.Record {
	return &kgo.Record{Offset: off, Key: key, Value: value}
}

func TestCodecRoundTrip(t *testing.T) {
	e := testEntry()
	got, origin, err := decodeEntry(encodeEntry(e))
	if err != nil || origin != -1 {
		t.Fatalf("decodeEntry(encodeEntry(e)) origin %d, err = %v, want -1, nil", origin, err)
	}
	if !got.Created.Equal(e.Created) || !got.Wrapped.Equal(e.Wrapped) || got.KEKName != e.KEKName ||
		!bytes.Equal(got.EDEK, e.EDEK) || got.Token != e.Token || got.Generation != 1 {
		t.Fatalf("decodeEntry() = %+v, want %+v with nanosecond times", got, e)
	}
	e.Seq = 42
	w, err := decodeRewrap(encodeRewrap(e))
	if err != nil || w.seq != 42 || !w.wrapped.Equal(e.Wrapped) || !bytes.Equal(w.edek, e.EDEK) {
		t.Fatalf("decodeRewrap() = %+v, %v", w, err)
	}
	if n, err := decodeMeta(encodeMeta(3)); err != nil || n != 3 {
		t.Fatalf("decodeMeta(encodeMeta(3)) = %d, %v", n, err)
	}
}

func TestCodecRejectsTruncated(t *testing.T) {
	entry, rw := encodeEntry(testEntry()), encodeRewrap(testEntry())
	for n := range len(entry) {
		if _, _, err := decodeEntry(entry[:n]); !errors.Is(err, errMalformed) {
			t.Fatalf("decodeEntry(%d of %d bytes) err = %v, want errMalformed", n, len(entry), err)
		}
	}
	for n := range len(rw) {
		if _, err := decodeRewrap(rw[:n]); !errors.Is(err, errMalformed) {
			t.Fatalf("decodeRewrap(%d of %d bytes) err = %v, want errMalformed", n, len(rw), err)
		}
	}
	if _, err := decodeMeta([]byte{1, 0, 0, 0, 0}); !errors.Is(err, errMalformed) {
		t.Fatalf("decodeMeta(0 partitions) err = %v, want errMalformed", err)
	}
}

// encodeV1 encodes e in format version 1, with millisecond times and an
// origin offset, as the first version of this package wrote it.
func encodeV1(e keyring.Entry, origin int64) []byte {
	b := []byte{entryVersion1, byte(e.Kind)}
	b = append(b, e.Token[:]...)
	b = binary.BigEndian.AppendUint32(b, e.Generation)
	b = binary.BigEndian.AppendUint32(b, e.KEKVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Created.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Wrapped.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(origin))
	b = append(b, byte(len(e.KEKName)))
	b = append(b, e.KEKName...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.EDEK)))
	return append(b, e.EDEK...)
}

// The index applies a rewrap only to the live entry it names, and never
// brings back a deleted id.
func TestIndexDeletionIsFinal(t *testing.T) {
	e := testEntry()
	newer := e
	newer.EDEK, newer.KEKVersion, newer.Seq = []byte("wrapped-2"), 2, 10
	stray := newer
	stray.Seq = 11
	cases := []struct {
		name    string
		records []*kgo.Record
		live    bool
		edek    string
	}{
		{"create", []*kgo.Record{record(10, entryKey(e.ID), encodeEntry(e))}, true, "wrapped-1"},
		{"create and rewrap", []*kgo.Record{record(10, entryKey(e.ID), encodeEntry(e)),
			record(11, rewrapKey(e.ID), encodeRewrap(newer))}, true, "wrapped-2"},
		{"rewrap naming another create", []*kgo.Record{record(10, entryKey(e.ID), encodeEntry(e)),
			record(11, rewrapKey(e.ID), encodeRewrap(stray))}, true, "wrapped-1"},
		{"rewrap after tombstone", []*kgo.Record{record(10, entryKey(e.ID), encodeEntry(e)),
			record(11, entryKey(e.ID), nil), record(12, rewrapKey(e.ID), encodeRewrap(newer))}, false, ""},
		{"rewrap alone after compaction", []*kgo.Record{record(12, rewrapKey(e.ID), encodeRewrap(newer))}, false, ""},
		{"create replayed after tombstone", []*kgo.Record{record(10, entryKey(e.ID), encodeEntry(e)),
			record(11, entryKey(e.ID), nil), record(12, entryKey(e.ID), encodeEntry(e))}, false, ""},
		{"second create", []*kgo.Record{record(10, entryKey(e.ID), encodeEntry(e)),
			record(11, entryKey(e.ID), encodeEntry(newer))}, true, "wrapped-1"},
		{"version 1 create and rewrap", []*kgo.Record{record(10, entryKey(e.ID), encodeV1(e, -1)),
			record(11, entryKey(e.ID), encodeV1(newer, 10))}, true, "wrapped-2"},
		{"version 1 rewrap alone", []*kgo.Record{record(11, entryKey(e.ID), encodeV1(newer, 10))}, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newIndex()
			for _, r := range tc.records {
				_, _ = x.apply(r)
			}
			got, live, _ := x.lookup(e.ID)
			if live != tc.live || (live && string(got.EDEK) != tc.edek) {
				t.Fatalf("lookup() = live %v, EDEK %q, want live %v, EDEK %q", live, got.EDEK, tc.live, tc.edek)
			}
			if live && got.Seq != 10 {
				t.Fatalf("lookup().Seq = %d, want 10, the create's offset", got.Seq)
			}
		})
	}
}

func TestIndexFirstMetadataWins(t *testing.T) {
	x := newIndex()
	if _, err := x.apply(record(0, []byte{keyMeta}, encodeMeta(1))); err != nil {
		t.Fatal(err)
	}
	if _, err := x.apply(record(1, []byte{keyMeta}, encodeMeta(4))); err == nil {
		t.Error("apply(second metadata record with another count) err = nil, want an error")
	}
	if n := x.recordedPartitions(); n != 1 {
		t.Errorf("recordedPartitions() = %d, want 1", n)
	}
}
