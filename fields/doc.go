// Package fields encrypts selected fields of a record value and leaves the
// rest readable, so that consumers can route, join and index on the parts
// of a record that are not sensitive while identifying parts stay sealed.
//
// A Selection names the fields by path. A Codec applies it to one record
// format: JSON here, Avro in fields/avrofields, Protobuf in
// fields/protofields. Package kafka plugs a Codec into its Producer and
// Consumer.
//
// # Path syntax
//
// A path is a sequence of segments:
//
//	name      the object member, record field or map entry "name"
//	.name     the same, after another segment
//	*  .*     every member of an object or map
//	[3]       the array element at index 3 (decimal, no leading zeros)
//	[*]       every array element
//
// Examples: "birthDate", "name[*].given", "contact[0].telecom",
// "extension.*". A member name is any non-empty UTF-8 text. The
// characters '.', '[', ']' and '\' in a name are written with a backslash
// before them ("a\.b" is the single member "a.b"), and "\*" is the member
// named "*". Whitespace is part of a name. Nothing else is escaped, so Unicode
// names are written as they are ("prénom"). Empty member names cannot be
// selected by name, only through "*".
//
// A path that matches nothing in a record is an error (ErrMissingField)
// unless it is marked Optional, because a field that silently stays in
// clear is the failure field encryption exists to prevent. Paths that
// could select the same value, such as "name" and "name[0].given", are
// rejected by NewSelection.
//
// # Marker format
//
// A sealed field that travels as text is
//
//	kenv1:BASE64
//
// where BASE64 is the standard, padded base64 of envelope.DEK.Seal's
// output. The JSON codec writes it as a JSON string in place of the
// value; the Avro codec writes it in a string field when configured for
// text; kafka writes it as the value of an encrypted header. A reader
// rejects any byte after the marker that is outside the base64 alphabet
// and '=', line breaks included, so each sealed value has one text form.
//
// # Keys and associated data
//
// All sealed fields of one record share one DEK and one descriptor, which
// travels once in the record's descriptor header (envelope.HeaderName);
// the descriptor's payload kind names the format. Each field is sealed
// with envelope.Binding{Topic, Key, Path}, where Path is the field's
// concrete path in canonical syntax, with indices in place of wildcards
// (FormatSegments). A ciphertext copied to another field, element, record
// key or topic therefore fails to open.
//
// # Record integrity tag
//
// Sealing a field protects only that field: on its own it does not stop
// an edit to a clear field, the deletion of an optional sealed field, or
// a sealed field pasted in from another record of the same topic, key and
// DEK. Package kafka closes these gaps with one tag per record: after the
// codec has produced the stored value and the header values are sealed,
// it computes envelope.DEK.Tag over the whole stored value and every
// sealed header (name and value, in order), bound to the descriptor,
// topic and key, and sends it in the header envelope.TagHeaderName
// ("kenvelope-tag") as 32 bytes: a binding check, a nonce and a GCM tag.
// A consumer verifies the tag before it opens any field, and fails a
// record whose tag is missing, duplicated or wrong. Headers that are not
// sealed are not covered, so tools on the way may add or change them.
// Codec.Decrypt alone does not check the tag; a program that calls it
// directly checks the tag itself, as kafka does.
//
// # JSON
//
// The JSON codec replaces a selected value of any type (string, number,
// boolean, object, array, and null under the NullPolicy) with a marked
// string holding the sealed compact text of the value: insignificant
// whitespace removed, strings, numbers and member order kept byte for
// byte. It is not RFC 8785 canonical JSON, which would rewrite numbers
// such as FHIR decimals whose precision is meaningful. Decryption puts the
// compact text back, so a value comes back with its type. Everything
// outside the selected values is copied byte for byte.
//
// On decryption every marked string is opened, wherever it is, so a
// record is never returned with a field still sealed; and every selected
// path must hold a marked string (ErrNotEncrypted). On encryption a string
// outside the selected paths that starts with the marker is rejected
// (ErrMarkerInClear), because a consumer would take it for ciphertext.
//
// Both directions reject, with ErrInvalidRecord, a record with a member
// name that is not valid Unicode: invalid UTF-8, or a \u escape of an
// unpaired surrogate. encoding/json decodes each of these to U+FFFD, so
// two different names would share a bound path and their sealed values
// could be swapped.
//
// # Errors
//
// Errors name a field by the path the configuration gives, never by
// member names or map keys that only the record supplies, because those
// can be PHI (see FieldError).
package fields
