package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrChainBroken is wrapped by every *ChainError.
var ErrChainBroken = errors.New("audit: hash chain broken")

// ChainError reports the first line at which a chained log fails to
// verify. Line counts from 1 over all lines of the input; a log that ends
// too early is reported at the line after its last.
type ChainError struct {
	Line   int
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit: hash chain broken at line %d: %s", e.Line, e.Reason)
}

// Unwrap returns ErrChainBroken.
func (e *ChainError) Unwrap() error { return ErrChainBroken }

// VerifyResult summarises a verified log.
type VerifyResult struct {
	Events int    // chained lines checked
	Seq    uint64 // sequence number of the last chained line
	Head   string // hash of the last chained line, Genesis when none
}

// VerifyOpt configures Verify and VerifyFrom.
type VerifyOpt interface{ applyVerify(*verifyConfig) }

type verifyConfig struct {
	heads map[uint64]string
}

type verifyOptFunc func(*verifyConfig)

func (f verifyOptFunc) applyVerify(c *verifyConfig) { f(c) }

// ExpectHead makes Verify check that the log holds the line with sequence
// number seq and the given hash, a head recorded elsewhere when that line
// was the last (see LogSink.Head and FormatHead). A log that ends before
// that line, which is how removing lines from the end shows, or whose
// line seq has another hash, fails with a *ChainError. It may be given
// once per recorded head. A head before the first line of the input is
// not checked. Default: no head, so lines removed from the end go
// unnoticed.
func ExpectHead(seq uint64, hash string) VerifyOpt {
	return verifyOptFunc(func(c *verifyConfig) { c.heads[seq] = hash })
}

// FormatHead returns a head as "seq:hash", the form purge evidence
// records.
func FormatHead(seq uint64, hash string) string { return strconv.FormatUint(seq, 10) + ":" + hash }

// ParseHead parses a head written by FormatHead.
func ParseHead(s string) (seq uint64, hash string, err error) {
	n, h, ok := strings.Cut(s, ":")
	seq, err = strconv.ParseUint(n, 10, 64)
	if !ok || err != nil || !isHash(h) {
		return 0, "", fmt.Errorf("audit: invalid chain head %q, want a sequence number, a colon and 64 lowercase hexadecimal digits", s)
	}
	return seq, h, nil
}

// Verify reads a log written by LogSink and checks that every line is a
// chained line exactly as LogSink writes it. The lines must start at
// sequence 1 with Genesis and follow each other without gaps, and each
// line's hash must match the line's bytes. So Verify rejects blank lines,
// other log output, unknown members and any change to a line's bytes. It
// returns a *ChainError for the first line that fails. Pass ExpectHead
// to detect lines removed from the end.
func Verify(r io.Reader, opts ...VerifyOpt) (VerifyResult, error) {
	return VerifyFrom(r, 0, Genesis, opts...)
}

// VerifyFrom is Verify for a log whose first line follows the line with
// sequence number seq and hash head, as for a log rotated into several
// files.
func VerifyFrom(r io.Reader, seq uint64, head string, opts ...VerifyOpt) (VerifyResult, error) {
	cfg := verifyConfig{heads: map[uint64]string{}}
	for _, o := range opts {
		o.applyVerify(&cfg)
	}
	res := VerifyResult{Seq: seq, Head: head}
	if err := checkHead(cfg, res); err != nil {
		return res, &ChainError{Line: 1, Reason: err.Error()}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 1
	for ; sc.Scan(); n++ {
		l, err := parseLine(sc.Bytes())
		if err == nil {
			err = checkLink(l, res)
		}
		if err != nil {
			return res, &ChainError{Line: n, Reason: err.Error()}
		}
		res.Events++
		res.Seq, res.Head = l.Seq, l.Hash
		if err := checkHead(cfg, res); err != nil {
			return res, &ChainError{Line: n, Reason: err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("audit: read log: %w", err)
	}
	for s := range cfg.heads {
		if s > res.Seq {
			return res, &ChainError{Line: n, Reason: fmt.Sprintf("the log ends at sequence %d, before the recorded head %d: lines were removed from the end", res.Seq, s)}
		}
	}
	return res, nil
}

// checkHead compares the line just verified with a recorded head of the
// same sequence number, if any.
func checkHead(cfg verifyConfig, res VerifyResult) error {
	if want, ok := cfg.heads[res.Seq]; ok && want != res.Head {
		return fmt.Errorf("line %d has hash %.12s…, but the recorded head has %.12s…", res.Seq, res.Head, want)
	}
	return nil
}

// parseLine checks that raw is a line exactly as LogSink writes it and
// that its hash matches its bytes, and returns it decoded.
func parseLine(raw []byte) (line, error) {
	var l line
	suffix := len(hashField) + 64 + 2
	if len(raw) < suffix || !bytes.HasSuffix(raw, []byte(`"}`)) || !bytes.Equal(raw[len(raw)-suffix:][:len(hashField)], []byte(hashField)) {
		return l, errors.New("not a chained audit line: it does not end with its audit_hash member")
	}
	prefix, hash := raw[:len(raw)-suffix], string(raw[len(raw)-66:len(raw)-2])
	if !isHash(hash) || lineHash(prefix) != hash {
		return l, errors.New("hash does not match the line's bytes: the line was altered")
	}

	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, fmt.Errorf("invalid chained line: %w", err)
	}
	if dec.More() {
		return l, errors.New("invalid chained line: data after the JSON object")
	}
	again, err := l.prefix()
	if err != nil || !bytes.Equal(again, prefix) {
		return l, errors.New("the line is not in the form LogSink writes (member order, case, spacing or escaping differs)")
	}
	if l.Msg != message || l.Level != level {
		return l, fmt.Errorf("message %q at level %q, want %q at %q", l.Msg, l.Level, message, level)
	}
	return l, nil
}

func checkLink(l line, before VerifyResult) error {
	if l.Seq != before.Seq+1 {
		return fmt.Errorf("sequence %d follows %d: lines are missing or reordered", l.Seq, before.Seq)
	}
	if l.Prev != before.Head {
		return fmt.Errorf("previous hash %.12s… does not match the line before (%.12s…)", l.Prev, before.Head)
	}
	return nil
}
