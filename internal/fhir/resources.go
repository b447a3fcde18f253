package fhir

import (
	"fmt"
	"math"
	"time"
)

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text,omitempty"`
}

type ref struct {
	Reference string `json:"reference"`
}

type humanName struct {
	Use    string   `json:"use"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
}

type patient struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id"`
	Name         []humanName `json:"name"`
	Gender       string      `json:"gender"`
	BirthDate    string      `json:"birthDate"`
}

func (p patient) typeAndID() (string, string) { return p.ResourceType, p.ID }

func patientResource(i int, id string) patient {
	genders := []string{"female", "male", "other", "unknown"}
	birth := time.Date(1940+(i*7)%60, time.Month(1+i%12), 1+(i*3)%28, 0, 0, 0, 0, time.UTC)
	return patient{
		ResourceType: "Patient",
		ID:           id,
		Name:         []humanName{{Use: "official", Family: "Testpatient", Given: []string{fmt.Sprintf("Synthetic-%04d", i)}}},
		Gender:       genders[i%len(genders)],
		BirthDate:    birth.Format(time.DateOnly),
	}
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type encounter struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Status       string            `json:"status"`
	Class        coding            `json:"class"`
	Type         []codeableConcept `json:"type"`
	Subject      ref               `json:"subject"`
	Period       period            `json:"period"`
}

func (e encounter) typeAndID() (string, string) { return e.ResourceType, e.ID }

func encounterResource(id, patientID string, at time.Time) encounter {
	return encounter{
		ResourceType: "Encounter",
		ID:           id,
		Status:       "finished",
		Class:        coding{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "AMB", Display: "ambulatory"},
		Type: []codeableConcept{{Coding: []coding{{
			System: "http://snomed.info/sct", Code: "185349003", Display: "Encounter for check up"}}}},
		Subject: ref{Reference: "urn:uuid:" + patientID},
		Period:  period{Start: at.Format(time.RFC3339), End: at.Add(30 * time.Minute).Format(time.RFC3339)},
	}
}

// vital is a LOINC-coded measurement with a plausible base value.
type vital struct {
	code, display, unit string
	base, step          float64
}

var vitals = []vital{
	{"8867-4", "Heart rate", "/min", 62, 1.5},
	{"29463-7", "Body weight", "kg", 58, 2.25},
	{"8480-6", "Systolic blood pressure", "mm[Hg]", 108, 2},
	{"8310-5", "Body temperature", "Cel", 36.2, 0.1},
}

type quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	System string  `json:"system"`
	Code   string  `json:"code"`
}

type observation struct {
	ResourceType      string            `json:"resourceType"`
	ID                string            `json:"id"`
	Status            string            `json:"status"`
	Category          []codeableConcept `json:"category"`
	Code              codeableConcept   `json:"code"`
	Subject           ref               `json:"subject"`
	Encounter         ref               `json:"encounter"`
	EffectiveDateTime string            `json:"effectiveDateTime"`
	ValueQuantity     quantity          `json:"valueQuantity"`
}

func (o observation) typeAndID() (string, string) { return o.ResourceType, o.ID }

func observationResource(id, patientID, encounterID string, at time.Time, v vital, seed int) observation {
	return observation{
		ResourceType: "Observation",
		ID:           id,
		Status:       "final",
		Category: []codeableConcept{{Coding: []coding{{
			System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Display: "vital signs"}}}},
		Code:              codeableConcept{Coding: []coding{{System: "http://loinc.org", Code: v.code, Display: v.display}}, Text: v.display},
		Subject:           ref{Reference: "Patient/" + patientID},
		Encounter:         ref{Reference: "urn:uuid:" + encounterID},
		EffectiveDateTime: at.Format(time.RFC3339),
		ValueQuantity:     quantity{Value: math.Round((v.base+v.step*float64(seed%17))*100) / 100, Unit: v.unit, System: "http://unitsofmeasure.org", Code: v.unit},
	}
}
