package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var fieldsSummary = regexp.MustCompile(`^quickstart: \d+ records, [0-9.]+ [kM]?B, [0-9.]+m?s, 0 mismatches$`)

func TestRunFieldsGenerated(t *testing.T) {
	stdout, stderr, code := runQuickstart(t, "-fields")
	if code != 0 {
		t.Fatalf("run -fields exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	if got := lastLine(stdout); !fieldsSummary.MatchString(got) {
		t.Errorf("summary = %q, want 0 mismatches", got)
	}
	for _, want := range []string{`"resourceType": `, `"kenv1:`, "AES-SIV token"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, phi := range []string{"Testpatient", "Synthetic-"} {
		if strings.Contains(stdout+stderr, phi) {
			t.Errorf("output contains %q, want identifying fields sealed", phi)
		}
	}
}

func TestRunFieldsSample(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "fhir-r4")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("sample bundles not found at %s", dir)
	}
	stdout, stderr, code := runQuickstart(t, "-fields", "-fhir", dir, "-topic", "sample-fields")
	if code != 0 {
		t.Fatalf("run -fields -fhir exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	if got := lastLine(stdout); !strings.HasPrefix(got, "quickstart: 432 records") || !fieldsSummary.MatchString(got) {
		t.Errorf("summary = %q, want 432 records and 0 mismatches", got)
	}
}

func TestFHIRCodecRejectsNonResource(t *testing.T) {
	c, err := newFHIRCodec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt([]byte(`[1,2]`), nil); err == nil {
		t.Error("Encrypt(array) err = nil, want an error")
	}
	// An Observation without a subject must fail, not pass in clear.
	if _, err := c.Encrypt([]byte(`{"resourceType":"Observation","id":"o1"}`), nil); err == nil || !strings.Contains(err.Error(), `"subject"`) {
		t.Errorf("Encrypt(no subject) err = %v, want a missing-field error naming subject", err)
	}
}
