package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/tokens"
)

// fhirRule lists, for one resource type, the paths the -fields mode
// encrypts: required ones fail a resource that lacks them, optional ones
// are encrypted when present.
type fhirRule struct {
	required, optional []string
}

// fhirRules maps resourceType to its identifying fields. A Patient's
// name, contact points, addresses, birth date and identifiers are
// encrypted. The Synthea bundles carry all five, but the built-in
// generator writes only a name and a birth date, so the other three are
// optional. A Patient's id is encrypted because it is the record key,
// which the -fields mode replaces with a token; in clear it would link the
// token to the patient. Its extensions are encrypted too, because the US
// Core ones in the Synthea data hold the mother's maiden name and
// birthplace. Other resources get their reference to the patient and their
// free text (the narrative "text" and "note") encrypted, and keep codes,
// values, dates and status readable for routing and analytics.
var fhirRules = map[string]fhirRule{
	"Patient": {required: []string{"id", "name", "birthDate"},
		optional: []string{"telecom", "address", "identifier", "text", "extension"}},
	"Claim":                {required: []string{"patient"}, optional: []string{"text", "note"}},
	"Immunization":         {required: []string{"patient"}, optional: []string{"text", "note"}},
	"ExplanationOfBenefit": {required: []string{"patient"}, optional: []string{"text", "contained[*].subject", "contained[*].beneficiary"}},
	"Organization":         {optional: []string{"text"}},
	"Practitioner":         {optional: []string{"text"}},
}

// defaultRule applies to every other resource type: clinical resources
// that point at their patient through subject.
var defaultRule = fhirRule{required: []string{"subject"}, optional: []string{"text", "note"}}

// fhirCodec is a fields.Codec that picks the JSON codec of each record's
// resourceType, which stays readable in the record.
type fhirCodec struct {
	byType   map[string]*fields.JSON
	fallback *fields.JSON
}

func newFHIRCodec() (*fhirCodec, error) {
	c := &fhirCodec{byType: map[string]*fields.JSON{}}
	var err error
	for typ, rule := range fhirRules {
		if c.byType[typ], err = rule.codec(); err != nil {
			return nil, fmt.Errorf("fields for %s: %w", typ, err)
		}
	}
	if c.fallback, err = defaultRule.codec(); err != nil {
		return nil, err
	}
	return c, nil
}

func (r fhirRule) codec() (*fields.JSON, error) {
	sel, err := fields.NewSelection(append(append([]string(nil), r.required...), r.optional...), fields.Optional(r.optional...))
	if err != nil {
		return nil, err
	}
	return fields.NewJSON(sel)
}

func (c *fhirCodec) Payload() envelope.Payload { return envelope.PayloadJSON }

func (c *fhirCodec) Encrypt(src []byte, reserve fields.ReserveFunc) ([]byte, error) {
	j, err := c.pick(src)
	if err != nil {
		return nil, err
	}
	return j.Encrypt(src, reserve)
}

func (c *fhirCodec) Decrypt(src []byte, open fields.Opener) ([]byte, error) {
	j, err := c.pick(src)
	if err != nil {
		return nil, err
	}
	return j.Decrypt(src, open)
}

// ContainsSealed looks for marked strings anywhere in src, which does not
// depend on the resource type.
func (c *fhirCodec) ContainsSealed(src []byte) bool { return c.fallback.ContainsSealed(src) }

func (c *fhirCodec) pick(src []byte) (*fields.JSON, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(src, &head); err != nil {
		return nil, &fields.InvalidRecordError{Format: "JSON", Offset: -1, Reason: "not a FHIR resource: " + err.Error()}
	}
	if j, ok := c.byType[head.ResourceType]; ok {
		return j, nil
	}
	return c.fallback, nil
}

// useFields sets the options of e that switch both the producer and the
// consumer to field encryption with key tokens. It also compacts every
// resource, because the codec returns each selected value in compact form
// and the check compares values byte for byte.
func useFields(e *env, resources []fhir.Resource) error {
	codec, err := newFHIRCodec()
	if err != nil {
		return err
	}
	// A random token key per run: in production it is a Tink keyset
	// stored encrypted by a KMS key (tokens.NewSIV).
	tokenKey := make([]byte, tokens.SIVKeySize)
	rand.Read(tokenKey)
	keys, err := tokens.NewSIVFromKey(tokenKey)
	clear(tokenKey)
	if err != nil {
		return err
	}
	e.recordOpts = []kafka.RecordOpt{kafka.Fields(codec), kafka.KeyTokens(keys)}
	for i := range resources {
		var buf bytes.Buffer
		if err := json.Compact(&buf, resources[i].JSON); err != nil {
			return fmt.Errorf("resource %d (%s): %w", i, resources[i].Type, err)
		}
		resources[i].JSON = buf.Bytes()
	}
	return nil
}

// isFieldsRecord reports whether r is a stored record of the -fields mode.
func isFieldsRecord(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == envelope.HeaderName {
			d, err := envelope.Parse(h.Value)
			return err == nil && d.Payload == envelope.PayloadJSON
		}
	}
	return false
}

// printFieldsRecord prints a stored record of the -fields mode: its value
// is readable JSON in which the identifying fields are sealed.
func printFieldsRecord(w io.Writer, r *kgo.Record) error {
	fmt.Fprintf(w, "One record as the broker stores it (topic %s, partition %d, offset %d):\n", r.Topic, r.Partition, r.Offset)
	fmt.Fprintf(w, "  key        %s (%d bytes: AES-SIV token of the patient id)\n", shortHex(r.Key), len(r.Key))
	for _, h := range r.Headers {
		switch h.Key {
		case envelope.HeaderName:
			fmt.Fprintf(w, "  header     %s: %s (%d bytes, the descriptor, payload JSON fields)\n", h.Key, shortHex(h.Value), len(h.Value))
		case envelope.TagHeaderName:
			fmt.Fprintf(w, "  header     %s: %s (%d bytes, the record tag over the value as stored)\n", h.Key, shortHex(h.Value), len(h.Value))
		default:
			fmt.Fprintf(w, "  header     %s: %q\n", h.Key, h.Value)
		}
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, r.Value, "             ", "  "); err != nil {
		return fmt.Errorf("stored value at partition %d offset %d is not JSON: %w", r.Partition, r.Offset, err)
	}
	fmt.Fprintf(w, "  value      %s\n", pretty.Bytes())
	fmt.Fprintf(w, "Each %q string is one field sealed under the record's DEK, bound to its path.\n", fields.Marker+"...")
	fmt.Fprintf(w, "The %s header authenticates the whole stored value, clear fields included.\n", envelope.TagHeaderName)
	return nil
}
