package fields

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidRecord is wrapped by every error about a record value that
	// is not valid in its format: not JSON, truncated Avro, unparseable
	// Protobuf.
	ErrInvalidRecord = errors.New("invalid record")

	// ErrMissingField is wrapped by a *FieldError for a required path that
	// matched nothing in a record.
	ErrMissingField = errors.New("configured field path matched nothing in the record; mark it optional if it may be absent")

	// ErrNotEncrypted is wrapped by a *FieldError when a consumer finds a
	// selected field in clear.
	ErrNotEncrypted = errors.New("selected field is not encrypted")

	// ErrBadMarker is wrapped by a *FieldError for a value that starts
	// with Marker but is not valid base64 of a sealed value.
	ErrBadMarker = errors.New("field carries the kenvelope marker but does not decode")

	// ErrMarkerInClear is wrapped by a *FieldError when a producer finds a
	// field it does not encrypt whose value starts with Marker. A consumer
	// would take it for ciphertext, so the record is rejected.
	ErrMarkerInClear = errors.New("unencrypted field value starts with the kenvelope marker")

	// ErrNullField is wrapped by a *FieldError for a null at a selected path
	// under RejectNull.
	ErrNullField = errors.New("selected field is null and the null policy rejects it")

	// ErrConfig is wrapped by every configuration error: overlapping
	// paths, paths that do not fit a schema, bad options.
	ErrConfig = errors.New("invalid field encryption configuration")
)

// SyntaxError reports a field path that does not parse.
type SyntaxError struct {
	Path   string
	Offset int // byte offset in Path
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fields: invalid path %q at byte %d: %s", e.Path, e.Offset, e.Reason)
}

// Unwrap returns ErrConfig.
func (e *SyntaxError) Unwrap() error { return ErrConfig }

// FieldError reports a failure on one field of a record. Path is the
// field's path as the configuration can name it: array indices are
// concrete, and each member name that no configured path names at that
// point, such as a map key under "*", is written "*". So an error under
// the path "byMRN.*.dx" names "byMRN.*.dx", and one under "name[*].given"
// names "name[2].given". Record and message field names from an Avro or
// Protobuf schema are kept. Path never holds a field value or a member
// name that only the record supplies, because either may be PHI, such as
// a medical record number used as a map key.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("field %q: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(path string, err error) error { return &FieldError{Path: path, Err: err} }

// InvalidRecordError reports a record value that does not parse in its
// format. Offset is the byte offset where parsing failed, or -1.
type InvalidRecordError struct {
	Format string // "JSON", "Avro" or "Protobuf"
	Offset int
	Reason string
}

func (e *InvalidRecordError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("invalid %s record: %s", e.Format, e.Reason)
	}
	return fmt.Sprintf("invalid %s record at byte %d: %s", e.Format, e.Offset, e.Reason)
}

// Unwrap returns ErrInvalidRecord.
func (e *InvalidRecordError) Unwrap() error { return ErrInvalidRecord }
