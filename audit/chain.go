package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Genesis is the previous-hash value of the first line of a chain: 64
// zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// message is the "msg" of every chained line; level is its "level".
const (
	message = "kenvelope audit"
	level   = "INFO"
)

// chainDomain starts the input of every line hash.
const chainDomain = "kenvelope audit chain v2\n"

// hashField ends every chained line: the line's hash is its last member.
const hashField = `,"audit_hash":"`

// line is one chained line. Its members are written in this order, with
// the layout of log/slog's JSON handler (time, level, msg first), so
// that log tooling reads the lines.
type line struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	Seq   uint64    `json:"audit_seq"`
	Prev  string    `json:"audit_prev"`
	Event Event     `json:"event"`
	Hash  string    `json:"audit_hash"`
}

// LogSink writes each event as one JSON line to its writer. Every line
// carries its sequence number, the hash of the line before and, as its
// last member, its own hash: SHA-256 over a domain string and the exact
// bytes of the line up to that member. Deleting, reordering or altering a
// line, even one byte of it, breaks the chain at that line, which Verify
// reports.
//
// Give the sink a writer of its own, such as a file: Verify rejects every
// line that the sink did not write, including other log output.
//
// An unkeyed hash chain proves integrity only relative to a trusted head:
// someone who can rewrite the whole file can also recompute every hash
// after the edit. Record Head somewhere the log's writer cannot change,
// such as a purge evidence document or a write-once store, and pass it to
// Verify with ExpectHead. Lines deleted from the end of the log are
// likewise visible only against a recorded head.
type LogSink struct {
	mu   sync.Mutex
	w    io.Writer
	now  func() time.Time
	seq  uint64
	head string
}

// NewLogSink returns a LogSink that writes JSON lines to w, starting a new
// chain.
func NewLogSink(w io.Writer) *LogSink {
	return &LogSink{w: w, now: time.Now, head: Genesis}
}

// ContinueLogSink returns a LogSink that appends to a chain whose last
// line had sequence number seq and hash head, as Verify returns them, so
// a restarted process extends the existing log instead of starting a
// second chain.
func ContinueLogSink(w io.Writer, seq uint64, head string) (*LogSink, error) {
	if !isHash(head) {
		return nil, fmt.Errorf("audit: invalid chain head %q, want 64 lowercase hexadecimal digits", head)
	}
	s := NewLogSink(w)
	s.seq, s.head = seq, head
	return s, nil
}

// Write appends e as the next line of the chain with one call to the
// writer. A zero e.Time is set to the current time; times are written in
// UTC, and invalid UTF-8 in strings is replaced with U+FFFD. When the
// writer fails, the chain does not advance and Write returns the error. A
// line the writer stored in part then breaks the chain at that line.
func (s *LogSink) Write(_ context.Context, e Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Time = e.Time.UTC()
	cleanStrings(&e)
	l := line{Time: now, Level: level, Msg: message, Seq: s.seq + 1, Prev: s.head, Event: e}
	b, hash, err := l.encode()
	if err != nil {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("audit: write line %d: %w", l.Seq, err)
	}
	s.seq, s.head = l.Seq, hash
	return nil
}

// Head returns the sequence number and hash of the last line written, or
// 0 and Genesis before the first.
func (s *LogSink) Head() (seq uint64, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq, s.head
}

// encode returns the line's bytes, ending in a newline, and its hash.
func (l line) encode() ([]byte, string, error) {
	prefix, err := l.prefix()
	if err != nil {
		return nil, "", err
	}
	h := lineHash(prefix)
	b := append(prefix, hashField...)
	b = append(b, h...)
	return append(b, "\"}\n"...), h, nil
}

// prefix returns the line's JSON up to its hash member: encoding/json
// output without HTML escaping, with the Hash member cut off.
func (l line) prefix() ([]byte, error) {
	l.Hash = ""
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return nil, fmt.Errorf("audit: encode event: %w", err)
	}
	b, ok := bytes.CutSuffix(buf.Bytes(), []byte(hashField+"\"}\n"))
	if !ok {
		return nil, fmt.Errorf("audit: encoded line does not end with its hash member")
	}
	return b, nil
}

func lineHash(prefix []byte) string {
	h := sha256.New()
	h.Write([]byte(chainDomain))
	h.Write(prefix)
	return hex.EncodeToString(h.Sum(nil))
}

// cleanStrings replaces invalid UTF-8 in e's strings, which encoding/json
// would write as escapes that do not survive decoding and encoding again.
func cleanStrings(e *Event) {
	fix := func(s string) string {
		if utf8.ValidString(s) {
			return s
		}
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	e.Kind = Kind(fix(string(e.Kind)))
	e.Principal, e.Topic, e.KEK, e.Reason = fix(e.Principal), fix(e.Topic), fix(e.KEK), fix(e.Reason)
	if slices.ContainsFunc(e.KeyIDs, func(id string) bool { return !utf8.ValidString(id) }) {
		ids := make([]string, len(e.KeyIDs)) // the caller's slice stays as it is
		for i, id := range e.KeyIDs {
			ids[i] = fix(id)
		}
		e.KeyIDs = ids
	}
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
