// Package kms defines the key-encryption key (KEK) that kenvelope uses to
// wrap data-encryption keys, and the errors every backend reports.
//
// A KEK lives in a KMS or HSM and never leaves it. kenvelope names it by a
// logical name, recorded in each record's descriptor, that configuration maps
// to a backend and a key id, so records do not hard-code ARNs and a
// deployment can move between key stores. A KEK has versions: Wrap always
// uses the primary version and reports which one it used, and Unwrap takes
// that version back from the record.
//
// Backends live in sub-packages: kms/awskms, kms/gcpkms, kms/vaulttransit,
// kms/tinkkms and kms/keyfile (development and tests only). Each classifies
// its failures into the sentinel errors of this package, wrapped in an
// *Error that names the KEK, version and operation that failed and
// reports whether a retry can help.
package kms
