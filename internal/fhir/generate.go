package fhir

import (
	"encoding/json"
	"fmt"
	"time"
)

// Generated bundles have this shape per patient: one Patient, encounters
// that reference it as "urn:uuid:ID", and observations that reference it
// as "Patient/ID", so both reference forms reach the key extraction.
const (
	encountersPerPatient   = 2
	observationsPerPatient = 4
)

// Generate returns the resources of n synthetic patients, the bundles of
// GenerateBundle(1) to GenerateBundle(n) parsed by ParseBundle.
func Generate(n int) ([]Resource, error) {
	var all []Resource
	for i := 1; i <= n; i++ {
		rs, err := ParseBundle(GenerateBundle(i))
		if err != nil {
			return nil, fmt.Errorf("fhir: generated bundle %d: %w", i, err)
		}
		all = append(all, rs...)
	}
	return all, nil
}

// GenerateBundle returns an indented FHIR R4 transaction Bundle for
// synthetic patient number i. The output depends only on i. Names are
// plainly fictitious ("Testpatient", "Synthetic-0001") and ids follow the
// pattern 00000000-0000-4000-8000-PPPPPPSSSSSS (patient, sequence), so no
// generated record can be mistaken for real PHI.
func GenerateBundle(i int) []byte {
	pid := fakeUUID(i, 0)
	entries := []bundleEntry{entry(patientResource(i, pid))}
	start := time.Date(2024, time.January, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * time.Hour)

	for e := range encountersPerPatient {
		eid := fakeUUID(i, 1+e)
		at := start.Add(time.Duration(e) * 30 * 24 * time.Hour)
		entries = append(entries, entry(encounterResource(eid, pid, at)))
	}
	for o := range observationsPerPatient {
		oid := fakeUUID(i, 100+o)
		enc := fakeUUID(i, 1+o%encountersPerPatient)
		at := start.Add(time.Duration(o%encountersPerPatient) * 30 * 24 * time.Hour)
		entries = append(entries, entry(observationResource(oid, pid, enc, at, vitals[o%len(vitals)], i+o)))
	}

	b, err := json.MarshalIndent(bundle{ResourceType: "Bundle", Type: "transaction", Entry: entries}, "", "  ")
	if err != nil {
		panic("fhir: marshal generated bundle: " + err.Error()) // only fixed types are marshalled
	}
	return b
}

func fakeUUID(patient, seq int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", patient, seq)
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Entry        []bundleEntry `json:"entry"`
}

type bundleEntry struct {
	FullURL  string  `json:"fullUrl"`
	Resource any     `json:"resource"`
	Request  request `json:"request"`
}

type request struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// idResource is implemented by the generated resource types, so entry can
// build the fullUrl and request of any of them.
type idResource interface{ typeAndID() (string, string) }

func entry(r idResource) bundleEntry {
	typ, id := r.typeAndID()
	return bundleEntry{FullURL: "urn:uuid:" + id, Resource: r, Request: request{Method: "POST", URL: typ}}
}
