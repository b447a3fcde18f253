// Package examples_test builds the producer and consumer programs and runs
// them against an in-process kfake broker.
package examples_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kenvelope/kenvelope/kms/keyfile"
)

const topic = "fhir.test"

// buildPrograms builds the producer and consumer into a temporary directory
// and returns it.
func buildPrograms(t *testing.T) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(gotool, "build", "-o", dir+string(filepath.Separator), "./producer", "./consumer")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./producer ./consumer: %v\n%s", err, out)
	}
	return dir
}

type outcome struct {
	stdout, stderr string
	code           int
}

func runProgram(t *testing.T, path string, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	o := outcome{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		o.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", filepath.Base(path), err)
	}
	return o
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// checkNoPHI fails if out contains a generated patient id or name.
func checkNoPHI(t *testing.T, what, out string) {
	t.Helper()
	for _, phi := range []string{"00000000-0000-4000-8000-", "Testpatient", "Synthetic-"} {
		if strings.Contains(out, phi) {
			t.Errorf("%s contains %q, want no patient data", what, phi)
		}
	}
}

func TestProducerConsumer(t *testing.T) {
	bin := buildPrograms(t)
	producer, consumer := filepath.Join(bin, "producer"), filepath.Join(bin, "consumer")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatalf("kfake.NewCluster err = %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	kekFile := filepath.Join(t.TempDir(), "kek.json")
	common := []string{"-brokers", brokers, "-topic", topic}

	// Three generated patients give 21 resources.
	p := runProgram(t, producer, append(common, "-kek-file", kekFile, "-patients", "3")...)
	if p.code != 0 {
		t.Fatalf("producer exit status = %d, want 0; stderr:\n%s", p.code, p.stderr)
	}
	if got := lastLine(p.stdout); !regexp.MustCompile(`^producer: 21 records, .+, 0 failed$`).MatchString(got) {
		t.Errorf("producer summary = %q, want 21 records and 0 failed", got)
	}
	checkNoPHI(t, "producer output", p.stdout+p.stderr)

	t.Run("file", func(t *testing.T) {
		c := runProgram(t, consumer, append(common, "-kek-file", kekFile, "-n", "21", "-timeout", "30s")...)
		checkConsumed(t, c, 21)
	})
	t.Run("uri", func(t *testing.T) {
		c := runProgram(t, consumer, append(common, "-kek", "keyfile://"+kekFile, "-n", "21", "-timeout", "30s")...)
		checkConsumed(t, c, 21)
	})
	t.Run("print", func(t *testing.T) {
		c := runProgram(t, consumer, append(common, "-kek-file", kekFile, "-n", "1", "-print", "-timeout", "30s")...)
		if c.code != 0 {
			t.Fatalf("consumer -print exit status = %d, want 0; stderr:\n%s", c.code, c.stderr)
		}
		if !strings.Contains(c.stdout, `"resourceType"`) {
			t.Errorf("consumer -print stdout = %q, want a decrypted resource", c.stdout)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		// A new key file with the same KEK name holds another key, so
		// unwrapping the records' DEKs fails.
		other := filepath.Join(t.TempDir(), "other.json")
		if _, err := keyfile.Open(other, "default"); err != nil {
			t.Fatal(err)
		}
		c := runProgram(t, consumer, append(common, "-kek-file", other, "-n", "21", "-timeout", "30s")...)
		if c.code != 1 {
			t.Errorf("consumer exit status = %d, want 1", c.code)
		}
		if !strings.Contains(c.stderr, "decrypt record") {
			t.Errorf("consumer stderr = %q, want a decrypt error", c.stderr)
		}
		if got := lastLine(c.stdout); !strings.HasPrefix(got, "consumer: 0 records, 0 B, ") {
			t.Errorf("consumer summary = %q, want 0 records", got)
		}
		checkNoPHI(t, "consumer output", c.stdout+c.stderr)
	})
	t.Run("timeout", func(t *testing.T) {
		c := runProgram(t, consumer, append(common, "-kek-file", kekFile, "-n", "22", "-timeout", "2s")...)
		if c.code != 1 {
			t.Errorf("consumer exit status = %d, want 1", c.code)
		}
		if !strings.Contains(c.stderr, "timed out after 2s with 21 of 22 records") {
			t.Errorf("consumer stderr = %q, want timed out with 21 of 22 records", c.stderr)
		}
	})
	t.Run("missing KEK", func(t *testing.T) {
		c := runProgram(t, consumer, common...)
		if c.code != 2 || !strings.Contains(c.stderr, "missing KEK") {
			t.Errorf("consumer exit status = %d, stderr %q, want 2 (invalid flags) and missing KEK", c.code, c.stderr)
		}
	})
}

func checkConsumed(t *testing.T, c outcome, n int) {
	t.Helper()
	if c.code != 0 {
		t.Fatalf("consumer exit status = %d, want 0; stderr:\n%s", c.code, c.stderr)
	}
	lines := strings.Split(strings.TrimRight(c.stdout, "\n"), "\n")
	if len(lines) != n+1 {
		t.Fatalf("consumer printed %d lines, want %d records and a summary:\n%s", len(lines), n, c.stdout)
	}
	line := regexp.MustCompile(`^fhir\.test/[01]@\d+ key 36 B value \d+ B kek default v1$`)
	for _, l := range lines[:n] {
		if !line.MatchString(l) {
			t.Errorf("record line = %q, want topic/partition@offset, key and value lengths, kek default v1", l)
		}
	}
	if got := lines[n]; !strings.HasPrefix(got, "consumer: 21 records, ") {
		t.Errorf("consumer summary = %q, want 21 records", got)
	}
	checkNoPHI(t, "consumer output", c.stdout+c.stderr)
}
