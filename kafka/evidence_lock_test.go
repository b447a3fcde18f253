//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package kafka_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kenvelope/kenvelope/kafka"
)

const (
	evidenceWriters = 3
	evidencePerProc = 20
	evidenceFileEnv = "KENVELOPE_TEST_EVIDENCE_FILE"
)

// TestEvidenceWriterProcess is the child of TestEvidenceLockAcrossProcesses,
// which names the file in the environment; run alone it skips.
func TestEvidenceWriterProcess(t *testing.T) {
	path := os.Getenv(evidenceFileEnv)
	if path == "" {
		t.Skip("run as a child of TestEvidenceLockAcrossProcesses")
	}
	for i := range evidencePerProc {
		e := &kafka.Evidence{Scope: "subject", RequestedBy: "alice", ApprovedBy: "bob", DEKIDs: []string{fmt.Sprintf("%02x", i)}}
		if err := kafka.AppendEvidence(path, e); err != nil {
			t.Fatalf("AppendEvidence() %d err = %v", i, err)
		}
	}
}

// Processes that append to one evidence file at once take turns. Without
// the lock, they wrote at the same offsets and lost documents, and the
// shorter chain still verified.
func TestEvidenceLockAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evidence.jsonl")
	cmds := make([]*exec.Cmd, evidenceWriters)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestEvidenceWriterProcess$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), evidenceFileEnv+"="+path)
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("writer process %d: %v", i, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, _, err := kafka.VerifyEvidence(f)
	if err != nil {
		t.Fatalf("VerifyEvidence() err = %v", err)
	}
	if want := evidenceWriters * evidencePerProc; n != want {
		t.Errorf("VerifyEvidence() documents = %d, want %d", n, want)
	}
}
