package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/kafka"
)

func runQuickstart(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestRunGenerated(t *testing.T) {
	stdout, stderr, code := runQuickstart(t)
	if code != 0 {
		t.Fatalf("run exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	summary := regexp.MustCompile(`^quickstart: 35 records, [0-9.]+ kB, [0-9.]+m?s, 0 mismatches$`)
	if got := lastLine(stdout); !summary.MatchString(got) {
		t.Errorf("summary = %q, want 35 records and 0 mismatches", got)
	}
	for _, want := range []string{"header     kenvelope: 01", "KEK        quickstart version 1", "EDEK       "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, phi := range []string{"00000000-0000-4000-8000-", "Testpatient", "Synthetic-", "resourceType"} {
		if strings.Contains(stdout+stderr, phi) {
			t.Errorf("output contains %q, want no record data", phi)
		}
	}
}

func TestRunSample(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "fhir-r4")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("sample bundles not found at %s", dir)
	}
	stdout, stderr, code := runQuickstart(t, "-fhir", dir, "-topic", "sample")
	if code != 0 {
		t.Fatalf("run -fhir exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	if got := lastLine(stdout); !regexp.MustCompile(`^quickstart: 432 records, 1\.5 MB, .+, 0 mismatches$`).MatchString(got) {
		t.Errorf("summary = %q, want 432 records, 1.5 MB and 0 mismatches", got)
	}

	resources, err := fhir.LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir err = %v", err)
	}
	for _, r := range resources {
		if r.Type == "Patient" && strings.Contains(stdout+stderr, r.PatientID) {
			t.Error("output contains a patient id")
		}
	}
}

func TestRunInvalid(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"unknown flag", []string{"-nope"}, 2},
		{"argument", []string{"extra"}, 2},
		{"missing directory", []string{"-fhir", filepath.Join(t.TempDir(), "none")}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, code := runQuickstart(t, tc.args...)
			if code != tc.code {
				t.Errorf("run %v exit status = %d, want %d", tc.args, code, tc.code)
			}
			if strings.Contains(stdout, "quickstart:") {
				t.Errorf("run %v printed a summary: %q", tc.args, stdout)
			}
		})
	}
}

// newChecker returns a checker for the resources of one generated patient,
// as if resource i had been produced at partition 0, offset i.
func newChecker(t *testing.T) *checker {
	t.Helper()
	resources, err := fhir.Generate(1)
	if err != nil {
		t.Fatalf("Generate(1) err = %v", err)
	}
	sent := make(map[position]int, len(resources))
	for i := range resources {
		sent[position{0, int64(i)}] = i
	}
	return &checker{log: slogDiscard(), resources: resources, sent: sent,
		done: make(map[position]bool), matched: make([]bool, len(resources))}
}

// decrypted returns the record that a correct consumer returns for
// resource i.
func (c *checker) decrypted(i int) kafka.Record {
	res := c.resources[i]
	raw := &kgo.Record{Topic: "t", Partition: 0, Offset: int64(i), Key: []byte(res.PatientID), Value: bytes.Clone(res.JSON)}
	return kafka.Record{Record: raw, Encrypted: true, KEKName: kekName, KEKVersion: 1}
}

func TestCheckerAllMatch(t *testing.T) {
	c := newChecker(t)
	for i := range c.resources {
		c.check(c.decrypted(i))
	}
	r := c.finish()
	if r.mismatches != 0 || r.missing != 0 || r.err() != nil {
		t.Errorf("finish() = %+v, err %v, want no mismatch, none missing", r, r.err())
	}
}

func TestCheckerMismatch(t *testing.T) {
	tests := []struct {
		name        string
		change      func(c *checker, r *kafka.Record)
		wantMissing int
	}{
		{"value", func(_ *checker, r *kafka.Record) { r.Value[len(r.Value)/2] ^= 1 }, 0},
		{"value truncated", func(_ *checker, r *kafka.Record) { r.Value = r.Value[:len(r.Value)-1] }, 0},
		{"key", func(_ *checker, r *kafka.Record) { r.Key = []byte("other-patient") }, 0},
		{"not encrypted", func(_ *checker, r *kafka.Record) { r.Encrypted = false }, 0},
		{"other KEK", func(_ *checker, r *kafka.Record) { r.KEKName = "other" }, 0},
		{"unknown offset", func(_ *checker, r *kafka.Record) { r.Offset = 99 }, 1},
		{"read twice", func(c *checker, _ *kafka.Record) { c.check(c.decrypted(0)) }, 0},
		{"decryption failed", func(c *checker, r *kafka.Record) {
			c.skipped(r.Record, errors.New("test failure"))
			*r = kafka.Record{} // the consumer returns nothing for it
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(t)
			for i := 1; i < len(c.resources); i++ {
				c.check(c.decrypted(i))
			}
			r := c.decrypted(0)
			tc.change(c, &r)
			if r.Record != nil {
				c.check(r)
			}

			got := c.finish()
			if got.mismatches != 1 {
				t.Errorf("finish().mismatches = %d, want 1", got.mismatches)
			}
			if got.missing != tc.wantMissing {
				t.Errorf("finish().missing = %d, want %d", got.missing, tc.wantMissing)
			}
			if !errors.Is(got.err(), errMismatch) {
				t.Errorf("result.err() = %v, want errMismatch", got.err())
			}
		})
	}
}

func TestCheckerMissing(t *testing.T) {
	c := newChecker(t)
	for i := 2; i < len(c.resources); i++ {
		c.check(c.decrypted(i))
	}
	r := c.finish()
	if r.missing != 2 || r.mismatches != 0 {
		t.Errorf("finish() = %+v, want 2 missing and no mismatch", r)
	}
	if !errors.Is(r.err(), errMissing) {
		t.Errorf("result.err() = %v, want errMissing", r.err())
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
