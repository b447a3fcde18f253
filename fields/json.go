package fields

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/kenvelope/kenvelope/envelope"
)

// NullPolicy is the JSON codec's rule for a null at a selected path.
type NullPolicy uint8

const (
	// EncryptNull seals a null like any other value, so a reader cannot
	// tell a null from a present value. This is the default.
	EncryptNull NullPolicy = iota
	// KeepNull leaves a null in clear, which reveals that the field is
	// null but keeps it usable in queries such as "has no birth date".
	KeepNull
	// RejectNull fails the record with ErrNullField.
	RejectNull
)

// JSON is the Codec for JSON record values. It is safe for concurrent use.
type JSON struct {
	sel   *Selection
	nulls NullPolicy
}

// JSONOpt configures NewJSON.
type JSONOpt interface{ applyJSON(*JSON) }

type jsonOptFunc func(*JSON)

func (f jsonOptFunc) applyJSON(j *JSON) { f(j) }

// Nulls sets the policy for a null at a selected path. Default EncryptNull.
func Nulls(p NullPolicy) JSONOpt { return jsonOptFunc(func(j *JSON) { j.nulls = p }) }

// NewJSON returns a JSON codec that encrypts the values sel selects.
func NewJSON(sel *Selection, opts ...JSONOpt) (*JSON, error) {
	if sel == nil {
		return nil, fmt.Errorf("fields: NewJSON needs a Selection: %w", ErrConfig)
	}
	j := &JSON{sel: sel}
	for _, o := range opts {
		o.applyJSON(j)
	}
	if j.nulls > RejectNull {
		return nil, fmt.Errorf("fields: unknown null policy %d: %w", j.nulls, ErrConfig)
	}
	return j, nil
}

// Payload returns envelope.PayloadJSON.
func (j *JSON) Payload() envelope.Payload { return envelope.PayloadJSON }

// walk validates src and collects the spans to replace.
func (j *JSON) walk(src []byte, encrypt bool) ([]jsonSpan, error) {
	// NOTE: json.Valid is a second pass over src, about 40 % of
	// Encrypt's time on a FHIR Patient (BENCHMARKS.md). The walker below
	// relies on it, because it does not check syntax itself.
	if !json.Valid(src) {
		return nil, &InvalidRecordError{Format: "JSON", Offset: -1, Reason: "not valid JSON"}
	}
	w := jsonWalker{src: src, encrypt: encrypt, nulls: j.nulls, hits: make([]int, j.sel.Len())}
	root := []*Node{j.sel.root}
	if _, err := w.value(skipSpace(src, 0), root); err != nil {
		return nil, err
	}
	if err := j.sel.CheckHits(w.hits); err != nil {
		return nil, err
	}
	return w.spans, nil
}

// Encrypt replaces each selected value with a JSON string holding Marker
// and the base64 of the sealed compact JSON text of the value. Everything
// outside the selected values is copied byte for byte.
func (j *JSON) Encrypt(src []byte, reserve ReserveFunc) ([]byte, error) {
	spans, err := j.walk(src, true)
	if err != nil {
		return nil, err
	}
	size, grow := 0, 0
	for _, s := range spans {
		size += s.end - s.start
		grow += MarkedLen(s.end-s.start) + 2 - (s.end - s.start)
	}
	sealer, err := reserve(len(spans), size)
	if err != nil {
		return nil, err
	}

	out := make([]byte, 0, len(src)+grow)
	var plain, sealed []byte
	prev := 0
	for _, s := range spans {
		out = append(out, src[prev:s.start]...)
		plain = appendCompact(plain[:0], src[s.start:s.end])
		sealed = sealer.Seal(sealed[:0], plain, s.path)
		out = append(out, '"')
		out = AppendMarked(out, sealed)
		out = append(out, '"')
		prev = s.end
	}
	clear(plain)
	return append(out, src[prev:]...), nil
}

// Decrypt replaces every marked string with the JSON value it seals, and
// checks that each selected path holds a sealed value.
func (j *JSON) Decrypt(src []byte, open Opener) ([]byte, error) {
	spans, err := j.walk(src, false)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(src))
	var sealed []byte
	prev := 0
	for _, s := range spans {
		out = append(out, src[prev:s.start]...)
		text, err := stringText(src[s.start:s.end])
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrBadMarker, err)
		} else {
			sealed, err = DecodeMarked(sealed[:0], text)
		}
		if err != nil {
			clear(out)
			return nil, fieldErr(s.shown, err)
		}
		// out never grows past len(src), because a plaintext is shorter
		// than its marked text, so earlier plaintexts stay in this array
		// and clear(out) wipes them on failure.
		opened, err := open.Open(out, sealed, s.path)
		if err != nil {
			clear(out)
			return nil, fieldErr(s.shown, err)
		}
		if !json.Valid(opened[len(out):]) {
			clear(opened)
			return nil, fieldErr(s.shown, fmt.Errorf("%w: opened value is not JSON", ErrBadMarker))
		}
		out = opened
		prev = s.end
	}
	return append(out, src[prev:]...), nil
}

// ContainsSealed reports whether src has a string value that starts with
// Marker, anywhere in the document. For src that is not valid JSON it
// reports whether Marker occurs in it at all.
func (j *JSON) ContainsSealed(src []byte) bool {
	if !json.Valid(src) {
		return bytes.Contains(src, []byte(Marker))
	}
	return containsMarkedValue(src)
}
