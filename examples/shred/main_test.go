package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunGenerated(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-patients", "4"}, &stdout, &stderr); code != 0 {
		t.Fatalf("run() = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"0 records decrypt, 7 fail with key shredded", "the 3 other patients: 21 of 21 records decrypt",
		"compaction pending", "compaction complete", "holds 0 DEKs of the patient, quarantined true", "hash chain verified",
		"includes the head", "shred: ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	// Generated patient ids end in their number; none may be printed.
	if strings.Contains(out+stderr.String(), "00000000-0000-4000-8000-") {
		t.Error("output or log names a patient id")
	}
}

func TestRunSample(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "fhir-r4")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("sample bundles not found at %s", dir)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-fhir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("run(-fhir sample) = %d, want 0\n%s\n%s", code, stdout.String(), stderr.String())
	}
}

func TestRunUnknownPatient(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-shred", "nobody"}, &stdout, &stderr); code != 1 {
		t.Fatalf("run(-shred nobody) = %d, want 1", code)
	}
	if code := run(context.Background(), []string{"extra"}, &stdout, &stderr); code != 2 {
		t.Fatalf("run(extra argument) = %d, want 2", code)
	}
}
