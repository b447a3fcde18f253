package fhir

import (
	"encoding/json"
	"strings"
)

// resourceHead is the part of a resource that decides its patient.
// subject, patient and beneficiary are kept raw because some resource
// types use these names for elements that are not a Reference.
type resourceHead struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Subject      json.RawMessage `json:"subject"`
	Patient      json.RawMessage `json:"patient"`
	Beneficiary  json.RawMessage `json:"beneficiary"`
}

type reference struct {
	Reference string `json:"reference"`
}

// entryRef is the type and id of the resource a bundle entry's fullUrl
// names.
type entryRef struct {
	resourceType string
	id           string
}

// index resolves references within one bundle.
type index struct {
	byFullURL    map[string]entryRef
	firstPatient string // id of the bundle's first Patient, or ""
}

func newIndex(entries []entryDoc, heads []resourceHead) index {
	idx := index{byFullURL: make(map[string]entryRef, len(entries))}
	for i, e := range entries {
		h := heads[i]
		if e.FullURL != "" {
			idx.byFullURL[e.FullURL] = entryRef{resourceType: h.ResourceType, id: h.ID}
		}
		if h.ResourceType == "Patient" && idx.firstPatient == "" {
			idx.firstPatient = h.ID
		}
	}
	return idx
}

// patientOf returns the patient id of a resource: its own id for a Patient,
// else the patient that subject, patient or beneficiary references (the
// first of them that references one), else the bundle's first Patient.
func (idx index) patientOf(h resourceHead) (string, error) {
	if h.ResourceType == "Patient" {
		return h.ID, nil
	}
	for _, raw := range []json.RawMessage{h.Subject, h.Patient, h.Beneficiary} {
		var ref reference
		if len(raw) == 0 || json.Unmarshal(raw, &ref) != nil {
			continue
		}
		if id, ok := idx.resolve(ref.Reference); ok {
			return id, nil
		}
	}
	if idx.firstPatient == "" {
		return "", errNoPatient
	}
	return idx.firstPatient, nil
}

// resolve returns the patient id that ref names and whether it names a
// patient. It accepts "urn:uuid:ID", resolved through the bundle's fullUrl
// values when the bundle contains that entry, and "Patient/ID", relative or
// absolute, with an optional "/_history/VERSION" suffix.
func (idx index) resolve(ref string) (string, bool) {
	if e, ok := idx.byFullURL[ref]; ok && e.resourceType == "Patient" {
		return e.id, true
	}
	if uuid, ok := strings.CutPrefix(ref, "urn:uuid:"); ok {
		// An entry of another type, such as a Group, is not a patient.
		_, inBundle := idx.byFullURL[ref]
		return uuid, uuid != "" && !inBundle
	}

	ref, _, _ = strings.Cut(ref, "/_history/")
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok {
		at := strings.LastIndex(ref, "/Patient/")
		if at < 0 {
			return "", false
		}
		id = ref[at+len("/Patient/"):]
	}
	return id, id != "" && !strings.Contains(id, "/")
}
