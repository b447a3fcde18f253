// Package fhir turns FHIR R4 bundles into one Kafka-ready resource per
// bundle entry, keyed by the patient the resource belongs to, and generates
// synthetic bundles. It serves the example programs and is not API.
package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Resource is one entry of a bundle.
type Resource struct {
	// Type is the resourceType, such as "Observation".
	Type string

	// PatientID is the id of the patient the resource belongs to, used as
	// the record key.
	PatientID string

	// JSON is the resource exactly as it appears in the bundle, byte for
	// byte, without the whitespace around it.
	JSON json.RawMessage
}

type bundleDoc struct {
	ResourceType string     `json:"resourceType"`
	Entry        []entryDoc `json:"entry"`
}

type entryDoc struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

// LoadDir reads every *.json file in dir, in name order, as a Bundle and
// returns the resources of all of them in file and entry order.
func LoadDir(dir string) ([]Resource, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("fhir: list bundles in %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("fhir: no *.json bundle files in %s", dir)
	}

	var all []Resource
	for _, p := range paths {
		rs, err := LoadFile(p)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	return all, nil
}

// LoadFile reads the Bundle at path and returns its resources. Errors name
// the path and, where one entry is at fault, its index.
//
// NOTE: some exporters, Synthea among them, name bundle files after the
// patient, so an error about such a file carries the patient's name.
func LoadFile(path string) ([]Resource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fhir: read bundle: %w", err)
	}
	rs, err := ParseBundle(data)
	if err != nil {
		return nil, fmt.Errorf("fhir: bundle %s: %w", path, err)
	}
	return rs, nil
}

// ParseBundle returns the resources of a FHIR Bundle in entry order. Each
// resource's JSON aliases data. An entry without a resource, a resource
// without resourceType, a Patient without id, and a resource whose patient
// cannot be determined are errors.
func ParseBundle(data []byte) ([]Resource, error) {
	var b bundleDoc
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if b.ResourceType != "Bundle" {
		return nil, fmt.Errorf("resourceType is %q, want \"Bundle\"", b.ResourceType)
	}

	heads, err := parseHeads(b.Entry)
	if err != nil {
		return nil, err
	}
	idx := newIndex(b.Entry, heads)

	out := make([]Resource, len(b.Entry))
	for i, e := range b.Entry {
		id, err := idx.patientOf(heads[i])
		if err != nil {
			return nil, fmt.Errorf("entry %d (%s): %w", i, heads[i].ResourceType, err)
		}
		out[i] = Resource{Type: heads[i].ResourceType, PatientID: id, JSON: e.Resource}
	}
	return out, nil
}

func parseHeads(entries []entryDoc) ([]resourceHead, error) {
	heads := make([]resourceHead, len(entries))
	for i, e := range entries {
		if len(e.Resource) == 0 || string(e.Resource) == "null" {
			return nil, fmt.Errorf("entry %d has no resource", i)
		}
		if err := json.Unmarshal(e.Resource, &heads[i]); err != nil {
			return nil, fmt.Errorf("entry %d: resource is not a JSON object: %w", i, err)
		}
		switch {
		case heads[i].ResourceType == "":
			return nil, fmt.Errorf("entry %d: resource has no resourceType", i)
		case heads[i].ResourceType == "Patient" && heads[i].ID == "":
			return nil, fmt.Errorf("entry %d: Patient has no id", i)
		}
	}
	return heads, nil
}

// errNoPatient is returned for a resource that references no patient in a
// bundle that contains no Patient.
var errNoPatient = errors.New("resource references no patient and the bundle contains no Patient")
