// Package avrofields encrypts selected fields of Avro binary records, with
// schemas from github.com/hamba/avro/v2.
//
// Fields are chosen by path (see package fields) or by the field property
// EncryptProp in the schema. A path enters arrays with [*] and maps with
// *, and passes through unions. Selection applies to record types: a field of
// a named record that is used in several places is encrypted in all of
// them.
//
// Encryption works on the binary encoding. The encoding of each selected
// field, exactly as written, is sealed and stored as Avro bytes (or as a
// fields.Marker string under TextCiphertext), which gives a record of the
// derived writer schema (Codec.WriterSchema): the original schema with
// each selected field's type replaced by the ciphertext type. A field of
// any type can be selected, unions such as ["null", Address] and
// ["string", Gender] included; a null branch is sealed like any other
// value, so the reader cannot tell it apart. All other bytes are copied
// unchanged, except the byte size in the header of an array or map block
// written with a negative count, which is rewritten when an item inside
// the block changed length.
//
// Decryption reads records of the derived schema, opens each ciphertext,
// checks that it is one value of the field's original type, and splices
// it back, so the consumer receives the producer's original encoding of
// Codec.Schema.
//
// A selected path that matches nothing in a record, such as "home.line"
// when home is null, fails the record with fields.ErrMissingField unless
// the path is optional.
package avrofields
