package fhir_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/internal/fhir"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDirGenerated(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.json", fhir.GenerateBundle(2))
	writeFile(t, dir, "a.json", fhir.GenerateBundle(1))
	writeFile(t, dir, "notes.txt", []byte("not a bundle"))

	got, err := fhir.LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir err = %v", err)
	}
	want, err := fhir.Generate(2)
	if err != nil {
		t.Fatalf("Generate(2) err = %v", err)
	}
	if len(got) != len(want) || len(got) != 14 {
		t.Fatalf("LoadDir returned %d resources, Generate(2) %d, want 14 each", len(got), len(want))
	}
	for i := range got {
		if got[i].Type != want[i].Type || got[i].PatientID != want[i].PatientID || !bytes.Equal(got[i].JSON, want[i].JSON) {
			t.Errorf("resource %d = %s/%s, want %s/%s with equal JSON", i, got[i].Type, got[i].PatientID, want[i].Type, want[i].PatientID)
		}
	}
}

func TestGenerateKeys(t *testing.T) {
	rs, err := fhir.Generate(3)
	if err != nil {
		t.Fatalf("Generate(3) err = %v", err)
	}
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Type]++
		// GenerateBundle gives each Patient sequence number 000000.
		if !strings.HasPrefix(r.PatientID, "00000000-0000-4000-8000-") || !strings.HasSuffix(r.PatientID, "000000") {
			t.Errorf("%s PatientID = %q, want a generated patient id", r.Type, r.PatientID)
		}
	}
	if counts["Patient"] != 3 || counts["Encounter"] != 6 || counts["Observation"] != 12 {
		t.Errorf("Generate(3) types = %v, want 3 Patient, 6 Encounter, 12 Observation", counts)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	if !bytes.Equal(fhir.GenerateBundle(7), fhir.GenerateBundle(7)) {
		t.Error("GenerateBundle(7) differs between calls")
	}
	if bytes.Equal(fhir.GenerateBundle(7), fhir.GenerateBundle(8)) {
		t.Error("GenerateBundle(7) equals GenerateBundle(8)")
	}
}

// bundleWith returns a bundle of Patient p-1 (fullUrl urn:uuid:u-1), Group
// g-1 (fullUrl urn:uuid:g-1) and res, in that order.
func bundleWith(res string) []byte {
	return []byte(`{"resourceType": "Bundle", "type": "collection", "entry": [
	  {"fullUrl": "urn:uuid:u-1", "resource": {"resourceType": "Patient", "id": "p-1"}},
	  {"fullUrl": "urn:uuid:g-1", "resource": {"resourceType": "Group", "id": "g-1"}},
	  {"resource": ` + res + `}]}`)
}

func TestParseBundleKeys(t *testing.T) {
	tests := []struct {
		name string
		res  string
		want string
	}{
		{"urn resolved", `{"resourceType": "Encounter", "subject": {"reference": "urn:uuid:u-1"}}`, "p-1"},
		{"urn outside bundle", `{"resourceType": "Encounter", "subject": {"reference": "urn:uuid:u-9"}}`, "u-9"},
		{"relative", `{"resourceType": "Observation", "subject": {"reference": "Patient/p-2"}}`, "p-2"},
		{"history", `{"resourceType": "Observation", "subject": {"reference": "Patient/p-2/_history/3"}}`, "p-2"},
		{"absolute", `{"resourceType": "Observation", "subject": {"reference": "https://fhir.example/r4/Patient/p-3"}}`, "p-3"},
		{"patient field", `{"resourceType": "Claim", "patient": {"reference": "Patient/p-4"}}`, "p-4"},
		{"beneficiary", `{"resourceType": "Coverage", "beneficiary": {"reference": "urn:uuid:u-5"}}`, "u-5"},
		{"group subject", `{"resourceType": "Observation", "subject": {"reference": "Group/g-1"}}`, "p-1"},
		{"group urn", `{"resourceType": "Observation", "subject": {"reference": "urn:uuid:g-1"}}`, "p-1"},
		{"subject group patient field", `{"resourceType": "X", "subject": {"reference": "Group/g-1"}, "patient": {"reference": "Patient/p-6"}}`, "p-6"},
		{"not a reference", `{"resourceType": "X", "patient": true}`, "p-1"},
		{"no reference", `{"resourceType": "Organization", "id": "o-1"}`, "p-1"},
		{"empty id", `{"resourceType": "Observation", "subject": {"reference": "Patient/"}}`, "p-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := fhir.ParseBundle(bundleWith(tc.res))
			if err != nil {
				t.Fatalf("ParseBundle err = %v", err)
			}
			if got := rs[2].PatientID; got != tc.want {
				t.Errorf("PatientID = %q, want %q", got, tc.want)
			}
			if rs[0].PatientID != "p-1" {
				t.Errorf("Patient PatientID = %q, want p-1", rs[0].PatientID)
			}
		})
	}
}

func TestParseBundleKeepsBytes(t *testing.T) {
	res := `{"resourceType":"Observation",  "subject" : {"reference": "Patient/p-2"}, "valueQuantity": {"value": 1.50e0}}`
	rs, err := fhir.ParseBundle(bundleWith(res))
	if err != nil {
		t.Fatalf("ParseBundle err = %v", err)
	}
	if string(rs[2].JSON) != res {
		t.Errorf("JSON = %s, want the bundle's bytes %s", rs[2].JSON, res)
	}
}

func TestLoadFileMalformed(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"invalid JSON", `{"resourceType": "Bundle", "entry": [`, "invalid JSON"},
		{"not a bundle", `{"resourceType": "Patient", "id": "p-1"}`, `want "Bundle"`},
		{"entry without resource", `{"resourceType": "Bundle", "entry": [{"fullUrl": "urn:uuid:x"}]}`, "entry 0 has no resource"},
		{"no resourceType", `{"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]}`, "entry 0: resource has no resourceType"},
		{"resource not object", `{"resourceType": "Bundle", "entry": [{"resource": [1]}]}`, "entry 0: resource is not a JSON object"},
		{"patient without id", `{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}`, "entry 0: Patient has no id"},
		{"no patient", `{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Organization"}}]}`, "entry 0 (Organization): resource references no patient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "broken.json", []byte(tc.data))
			_, err := fhir.LoadFile(p)
			if err == nil {
				t.Fatal("LoadFile err = nil, want an error")
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("LoadFile err = %q, want it to name %s", err, p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadFile err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadDirMalformedFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.json", fhir.GenerateBundle(1))
	bad := writeFile(t, dir, "b.json", []byte("{"))
	_, err := fhir.LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadDir err = %v, want an error naming %s", err, bad)
	}
}

func TestLoadDirEmpty(t *testing.T) {
	dir := t.TempDir()
	_, err := fhir.LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "no *.json bundle files") {
		t.Errorf("LoadDir(empty) err = %v, want no *.json bundle files", err)
	}
}

func TestLoadDirSample(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "fhir-r4")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("sample bundles not found at %s", dir)
	}
	rs, err := fhir.LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir(sample) err = %v", err)
	}
	patients := map[string]bool{}
	for _, r := range rs {
		if r.Type == "Patient" {
			patients[r.PatientID] = true
		}
	}
	for _, r := range rs {
		if !patients[r.PatientID] {
			t.Errorf("%s keyed by a patient id that is not a Patient of the sample", r.Type)
		}
	}
	if len(patients) != 6 {
		t.Errorf("sample has %d patients, want 6", len(patients))
	}
}
