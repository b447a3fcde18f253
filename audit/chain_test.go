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

func TestVerifySkipsOtherLogLines(t *testing.T) {
	buf, _ := writeEvents(t, 2)
	lines := strings.SplitAfter(buf.String(), "\n")
	mixed := lines[0] + `{"level":"INFO","msg":"unrelated"}` + "\nplain text\n" + lines[1]
	if res, err := audit.Verify(strings.NewReader(mixed)); err != nil || res.Events != 2 {
		t.Fatalf("Verify(mixed log) = %+v, %v, want 2 events", res, err)
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
