package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrChainBroken is wrapped by every *ChainError.
var ErrChainBroken = errors.New("audit: hash chain broken")

// ChainError reports the first line at which a chained log fails to
// verify. Line counts from 1 over all lines of the input.
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

type chainedLine struct {
	Msg   string          `json:"msg"`
	Seq   *uint64         `json:"audit_seq"`
	Prev  string          `json:"audit_prev"`
	Hash  string          `json:"audit_hash"`
	Event json.RawMessage `json:"event"`
}

// Verify reads a log written by LogSink and checks that its chained lines
// start at sequence 1 with Genesis, follow each other without gaps, and
// each hash matches the line's content and the hash before it. Lines that
// are not audit lines (other log output sharing the writer) are skipped.
// It returns a *ChainError for the first line that fails. Compare the
// returned Head with a head recorded elsewhere to detect lines removed
// from the end.
func Verify(r io.Reader) (VerifyResult, error) {
	return VerifyFrom(r, 0, Genesis)
}

// VerifyFrom is Verify for a log whose first chained line follows the
// line with sequence number seq and hash head, as for a log rotated into
// several files.
func VerifyFrom(r io.Reader, seq uint64, head string) (VerifyResult, error) {
	res := VerifyResult{Seq: seq, Head: head}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		var l chainedLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Msg != message || l.Seq == nil {
			if err == nil && l.Seq != nil {
				return res, &ChainError{Line: n, Reason: fmt.Sprintf("message %q, want %q", l.Msg, message)}
			}
			continue
		}
		if err := checkLine(&l, res); err != nil {
			return res, &ChainError{Line: n, Reason: err.Error()}
		}
		res.Events++
		res.Seq, res.Head = *l.Seq, l.Hash
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("audit: read log: %w", err)
	}
	return res, nil
}

func checkLine(l *chainedLine, before VerifyResult) error {
	if *l.Seq != before.Seq+1 {
		return fmt.Errorf("sequence %d follows %d: lines are missing or reordered", *l.Seq, before.Seq)
	}
	if l.Prev != before.Head {
		return fmt.Errorf("previous hash %.12s… does not match the line before (%.12s…)", l.Prev, before.Head)
	}
	var e Event
	if err := json.Unmarshal(l.Event, &e); err != nil {
		return fmt.Errorf("invalid event: %w", err)
	}
	want, err := lineHash(*l.Seq, l.Prev, e)
	if err != nil {
		return err
	}
	if l.Hash != want {
		return fmt.Errorf("hash does not match the line's content: the line was altered")
	}
	return nil
}
