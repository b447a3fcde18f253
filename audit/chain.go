package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
)

// Genesis is the previous-hash value of the first line of a chain: 64
// zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Attribute names of a chained line, beside "time", "level" and "msg"
// that slog's JSON handler writes.
const (
	attrSeq   = "audit_seq"
	attrPrev  = "audit_prev"
	attrHash  = "audit_hash"
	attrEvent = "event"
	message   = "kenvelope audit"
)

// LogSink writes each event as one JSON line through a slog.JSONHandler.
// Every line carries its sequence number, the hash of the line before and
// its own hash: SHA-256 over a domain string, the sequence number, the
// previous hash and the event's canonical JSON. Deleting, reordering or
// altering a line breaks the chain at that line, which Verify reports.
//
// An unkeyed hash chain proves integrity only relative to a trusted head:
// someone who can rewrite the whole file can also recompute every hash
// after the edit. Record Head somewhere the log's writer cannot change,
// such as a purge evidence document or a write-once store, and compare it
// with what Verify returns. Deleting lines at the end of the log is
// likewise visible only against a recorded head.
type LogSink struct {
	mu     sync.Mutex
	logger *slog.Logger
	seq    uint64
	head   string
}

// NewLogSink returns a LogSink that writes JSON lines to w, starting a new
// chain.
func NewLogSink(w io.Writer) *LogSink {
	return &LogSink{logger: slog.New(slog.NewJSONHandler(w, nil)), head: Genesis}
}

// ContinueLogSink returns a LogSink that appends to a chain whose last
// line had sequence number seq and hash head, as Verify returns them, so
// a restarted process extends the existing log instead of starting a
// second chain.
func ContinueLogSink(w io.Writer, seq uint64, head string) (*LogSink, error) {
	if _, err := hex.DecodeString(head); err != nil || len(head) != 64 {
		return nil, fmt.Errorf("audit: invalid chain head %q, want 64 hexadecimal digits", head)
	}
	s := NewLogSink(w)
	s.seq, s.head = seq, head
	return s, nil
}

// Write appends e as the next line of the chain. A zero e.Time is set to
// the current time. Times are written in UTC.
func (s *LogSink) Write(ctx context.Context, e Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Time = e.Time.UTC()
	seq := s.seq + 1
	h, err := lineHash(seq, s.head, e)
	if err != nil {
		return err
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, message,
		slog.Uint64(attrSeq, seq), slog.String(attrPrev, s.head), slog.String(attrHash, h), slog.Any(attrEvent, e))
	s.seq, s.head = seq, h
	return nil
}

// Head returns the sequence number and hash of the last line written, or
// 0 and Genesis before the first.
func (s *LogSink) Head() (seq uint64, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq, s.head
}

// canonical returns the JSON that the chain hashes for e: encoding/json
// output without HTML escaping and without the trailing newline.
func canonical(e Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("audit: encode event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func lineHash(seq uint64, prev string, e Event) (string, error) {
	body, err := canonical(e)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte("kenvelope audit chain v1\n"))
	h.Write(strconv.AppendUint(nil, seq, 10))
	h.Write([]byte("\n" + prev + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}
