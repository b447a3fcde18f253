// Package protofields encrypts selected fields of Protobuf records, using
// google.golang.org/protobuf reflection, so it needs only the message
// descriptor, not generated code.
//
// Paths (see package fields) name fields by their proto name, and [n] and
// [*] enter a repeated message field. A path ends at a field of any type:
// scalar, message, repeated or map. Map values are not entered.
//
// # Wire format
//
// Encryption removes each selected field from its message and adds, to
// that message's unknown fields, one field with the sealed-field number
// (DefaultSealedField, 536870911, unless SealedField sets another) and
// wire type bytes, whose content is a sealed entry:
//
//	message SealedEntry {
//	  uint32 field  = 1; // number of the sealed field
//	  bytes  sealed = 2; // the field's wire encoding, sealed
//	}
//
// The sealed plaintext is the deterministic wire encoding of the field
// alone, all elements of a repeated field included. Any parser keeps the
// entries as unknown fields, and other unknown fields of the record are
// kept too. The record is re-encoded deterministically, so the bytes of
// fields outside the selection may be reordered, but their values are
// unchanged.
//
// Decryption visits every message reached through message fields and
// repeated message fields, opens each entry, and merges the field back. A
// selected field present in clear fails with fields.ErrNotEncrypted, and
// a message with two entries for one field number fails, because merging
// both would double a repeated field.
//
// A proto2 required field cannot be selected: New rejects the path with
// fields.ErrConfig. Encryption removes the selected field from its
// message, and a record without a required field does not parse in a
// reader that checks required fields. Marshalling with AllowPartial would
// hand that failure to every other reader of the topic instead.
//
// A proto3 field without explicit presence that holds its zero value is
// absent from the wire, so a path to it matches nothing: mark such paths
// optional, or use fields with explicit presence (proto3 optional).
package protofields
