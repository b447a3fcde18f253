package audit_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/audit"
)

func writeEvents(t *testing.T, n int) (*bytes.Buffer, *audit.LogSink) {
	t.Helper()
	var buf bytes.Buffer
	s := audit.NewLogSink(&buf)
	for i := 0; i < n; i++ {
		e := audit.Event{Time: time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC), Kind: audit.DEKCreated, Principal: "svc-a",
			Topic: "fhir<&>", KEK: "patients", KEKVersion: 2, KeyIDs: []string{"00ff"}, Count: int64(i + 1)}
		if err := s.Write(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	return &buf, s
}

func TestVerifyIntactLog(t *testing.T) {
	buf, s := writeEvents(t, 5)
	res, err := audit.Verify(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("Verify() err = %v", err)
	}
	seq, head := s.Head()
	if res.Events != 5 || res.Seq != seq || res.Head != head {
		t.Fatalf("Verify() = %+v, want 5 events ending at the sink's head %d %s", res, seq, head)
	}
}

func TestVerifyDetectsEdits(t *testing.T) {
	buf, _ := writeEvents(t, 5)
	lines := strings.SplitAfter(buf.String(), "\n")
	cases := []struct {
		name string
		log  string
		line int
	}{
		{"line deleted", lines[0] + lines[1] + lines[3] + lines[4], 3},
		{"lines swapped", lines[0] + lines[2] + lines[1] + lines[3] + lines[4], 2},
		{"count altered", strings.Replace(buf.String(), `"count":3`, `"count":30`, 1), 3},
		{"principal altered", lines[0] + strings.Replace(lines[1], "svc-a", "svc-b", 1) + lines[2], 2},
		{"first line deleted", lines[1] + lines[2], 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.Verify(strings.NewReader(tc.log))
			var ce *audit.ChainError
			if !errors.As(err, &ce) || !errors.Is(err, audit.ErrChainBroken) {
				t.Fatalf("Verify() err = %v, want a ChainError", err)
			}
			if ce.Line != tc.line {
				t.Fatalf("ChainError.Line = %d, want %d", ce.Line, tc.line)
			}
		})
	}
}

func TestVerifyRejectsOtherLines(t *testing.T) {
	buf, _ := writeEvents(t, 2)
	lines := strings.SplitAfter(buf.String(), "\n")
	for _, other := range []string{`{"level":"INFO","msg":"unrelated"}` + "\n", "plain text\n", "\n"} {
		if _, err := audit.Verify(strings.NewReader(lines[0] + other + lines[1])); !errors.Is(err, audit.ErrChainBroken) {
			t.Errorf("Verify(log with line %q) err = %v, want ErrChainBroken", other, err)
		}
	}
}

// Every change to a line's bytes breaks the chain, including members
// that Verify does not otherwise use and members added to the event.
func TestVerifyDetectsByteEdits(t *testing.T) {
	buf, _ := writeEvents(t, 4)
	lines := strings.SplitAfter(buf.String(), "\n")
	rest := strings.Join(lines[2:], "")
	cases := []struct {
		name string
		log  string
	}{
		{"member added to event", lines[0] + strings.Replace(lines[1], `"event":{`, `"event":{"subject":"MRN-1","approved":true,`, 1) + rest},
		{"time rewritten", lines[0] + replaceTime(lines[1]) + rest},
		{"level rewritten", lines[0] + strings.Replace(lines[1], `"level":"INFO"`, `"level":"DEBUG"`, 1) + rest},
		{"member name case changed", lines[0] + strings.Replace(lines[1], `"kind":`, `"KIND":`, 1) + rest},
		{"space added", lines[0] + strings.Replace(lines[1], `"kind":`, `"kind": `, 1) + rest},
		{"last line made unparsable", strings.Join(lines[:3], "") + strings.TrimSuffix(lines[3], "}\n") + "\n"},
		{"last line's audit_seq renamed", strings.Join(lines[:3], "") + strings.Replace(lines[3], `"audit_seq"`, `"audit_sEq_"`, 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.log == buf.String() {
				t.Fatal("the edit did not apply")
			}
			res, err := audit.Verify(strings.NewReader(tc.log))
			if !errors.Is(err, audit.ErrChainBroken) {
				t.Errorf("Verify() = %d events, err %v, want ErrChainBroken", res.Events, err)
			}
		})
	}
}

// replaceTime replaces the line's first "time" value.
func replaceTime(line string) string {
	i := strings.Index(line, `"time":"`)
	j := strings.Index(line[i+8:], `"`)
	return line[:i] + `"time":"1999-01-01T00:00:00Z"` + line[i+8+j+1:]
}

func TestVerifyExpectHead(t *testing.T) {
	buf, s := writeEvents(t, 4)
	seq, head := s.Head()
	lines := strings.SplitAfter(buf.String(), "\n")
	if _, err := audit.Verify(bytes.NewReader(buf.Bytes()), audit.ExpectHead(seq, head)); err != nil {
		t.Fatalf("Verify(ExpectHead(last line)) err = %v", err)
	}
	if err := s.Write(context.Background(), audit.Event{Kind: audit.ShredVerified}); err != nil {
		t.Fatal(err)
	}
	longer := buf.String()
	if _, err := audit.Verify(strings.NewReader(longer), audit.ExpectHead(seq, head)); err != nil {
		t.Fatalf("Verify(a log that grew past the head) err = %v", err)
	}
	cases := []struct {
		name string
		log  string
		seq  uint64
		hash string
	}{
		{"last line removed", strings.Join(lines[:3], ""), seq, head},
		{"log emptied", "", seq, head},
		{"other hash", buf.String(), 2, head},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := audit.Verify(strings.NewReader(tc.log), audit.ExpectHead(tc.seq, tc.hash)); !errors.Is(err, audit.ErrChainBroken) {
				t.Errorf("Verify(ExpectHead(%d)) err = %v, want ErrChainBroken", tc.seq, err)
			}
		})
	}
}

func TestParseHead(t *testing.T) {
	seq, hash, err := audit.ParseHead(audit.FormatHead(7, audit.Genesis))
	if err != nil || seq != 7 || hash != audit.Genesis {
		t.Fatalf("ParseHead(FormatHead(7, Genesis)) = %d, %s, %v", seq, hash, err)
	}
	for _, bad := range []string{"", "7", "7:", "x:" + audit.Genesis, "7:" + strings.Repeat("A", 64), "7:" + audit.Genesis + "0"} {
		if _, _, err := audit.ParseHead(bad); err == nil {
			t.Errorf("ParseHead(%q) err = nil, want an error", bad)
		}
	}
}

// failWriter fails every write. It is a test double only to inject a
// write error that a buffer cannot produce.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("injected: disk full") }

func TestLogSinkWriteError(t *testing.T) {
	s := audit.NewLogSink(failWriter{})
	if err := s.Write(context.Background(), audit.Event{Kind: audit.DEKCreated}); err == nil {
		t.Fatal("Write() to a failing writer err = nil, want the error")
	}
	if seq, head := s.Head(); seq != 0 || head != audit.Genesis {
		t.Fatalf("Head() after a failed write = %d, %s, want 0 and Genesis", seq, head)
	}
}

func TestLogSinkInvalidUTF8(t *testing.T) {
	var buf bytes.Buffer
	s := audit.NewLogSink(&buf)
	ids := []string{"ok", "bad\xff"}
	if err := s.Write(context.Background(), audit.Event{Kind: audit.DEKDenied, Topic: "t\xfe<&>\u2028", KeyIDs: ids}); err != nil {
		t.Fatal(err)
	}
	if ids[1] != "bad\xff" {
		t.Error("Write() changed the caller's KeyIDs")
	}
	if _, err := audit.Verify(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("Verify(line with invalid UTF-8 replaced) err = %v", err)
	}
}

func TestContinueLogSink(t *testing.T) {
	buf, s := writeEvents(t, 2)
	seq, head := s.Head()
	next, err := audit.ContinueLogSink(buf, seq, head)
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Write(context.Background(), audit.Event{Kind: audit.ShredRequested}); err != nil {
		t.Fatal(err)
	}
	if res, err := audit.Verify(bytes.NewReader(buf.Bytes())); err != nil || res.Events != 3 {
		t.Fatalf("Verify(continued log) = %+v, %v, want 3 events in one chain", res, err)
	}
	if _, err := audit.ContinueLogSink(buf, 1, "not-hex"); err == nil {
		t.Fatal("ContinueLogSink(invalid head) err = nil, want an error")
	}
}
