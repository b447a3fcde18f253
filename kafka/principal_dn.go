package kafka

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// rfc2253Keywords are the attribute types Java's X500Principal.getName()
// prints by keyword; every other type is printed as its dotted OID.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
}

// ASN.1 universal tags of the string types Java prints as text.
const (
	tagUTF8String      = 12
	tagPrintableString = 19
	tagT61String       = 20
	tagIA5String       = 22
	tagGeneralString   = 27
	tagBMPString       = 30
)

type attributeTypeAndValue struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// The SET suffix makes encoding/asn1 parse the type as SET OF.
type relativeDistinguishedNameSET []attributeTypeAndValue

// SubjectDN returns cert's subject in the form a Kafka broker matches
// ssl.principal.mapping.rules against: the RFC 2253 string of Java's
// X500Principal.getName(), as OpenJDK's sun.security.x509.AVA builds it. It
// differs from pkix.Name.String: attributes keep the certificate's order
// (last RDN first), only CN, C, L, ST, STREET, O, OU, UID and DC are
// printed by name, other types (emailAddress, serialNumber) as OID=#hex of
// their DER encoding, and each of , = + < > # ; " \ is escaped with a
// backslash. Like Java, it reads the content of every string type as UTF-8,
// also BMPString (UTF-16) and T61String. A BMPString "svc" therefore prints
// as \00s\00v\00c and a Latin-1 byte as U+FFFD, and a rule must match that
// text to match the name the broker derives.
func SubjectDN(cert *x509.Certificate) (string, error) {
	var rdns []relativeDistinguishedNameSET
	rest, err := asn1.Unmarshal(cert.RawSubject, &rdns)
	if err != nil {
		return "", fmt.Errorf("kenvelope: parse certificate subject: %w", err)
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("kenvelope: parse certificate subject: %d trailing bytes", len(rest))
	}

	out := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		avas := make([]string, len(rdns[i]))
		for j, ava := range rdns[i] {
			avas[j] = formatAVA(ava)
		}
		out = append(out, strings.Join(avas, "+"))
	}
	return strings.Join(out, ","), nil
}

func formatAVA(ava attributeTypeAndValue) string {
	oid := ava.Type.String()
	keyword, ok := rfc2253Keywords[oid]
	if !ok {
		return oid + "=#" + hex.EncodeToString(ava.Value.FullBytes)
	}
	s, ok := decodeDirectoryString(ava.Value)
	if !ok {
		return keyword + "=#" + hex.EncodeToString(ava.Value.FullBytes)
	}
	return keyword + "=" + escapeRFC2253(s)
}

// decodeDirectoryString returns the text of a string type that Java prints
// as text, decoded as Java's new String(contentBytes, UTF_8) does whatever
// the type.
func decodeDirectoryString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", false
	}
	switch v.Tag {
	case tagUTF8String, tagPrintableString, tagT61String, tagIA5String, tagGeneralString, tagBMPString:
		return javaDecodeUTF8(v.Bytes), true
	}
	return "", false
}

// escapeRFC2253 escapes as Java's AVA.toRFC2253String does: each special
// character anywhere, NUL as \00, and each leading or trailing space or
// carriage return.
func escapeRFC2253(s string) string {
	var escaped []rune
	for _, c := range s {
		switch {
		case strings.ContainsRune(`,=+<>#;"\`, c):
			escaped = append(escaped, '\\', c)
		case c == 0:
			escaped = append(escaped, '\\', '0', '0')
		default:
			escaped = append(escaped, c)
		}
	}

	isSpace := func(c rune) bool { return c == ' ' || c == '\r' }
	lead := 0
	for lead < len(escaped) && isSpace(escaped[lead]) {
		lead++
	}
	trail := len(escaped) - 1
	for trail >= 0 && isSpace(escaped[trail]) {
		trail--
	}
	var b strings.Builder
	for i, c := range escaped {
		if i < lead || i > trail {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// javaDecodeUTF8 decodes b as OpenJDK's new String(b, UTF_8) does
// (String.decodeUTF8_UTF16 in JDK 17), with the same U+FFFD replacements
// for malformed input. Go's []rune conversion replaces each invalid byte.
// Java instead replaces an encoded surrogate with a single U+FFFD, and also
// a lead byte followed by one valid continuation byte, and a sequence cut
// short at the end of b.
func javaDecodeUTF8(b []byte) string {
	var out strings.Builder
	for len(b) > 0 {
		r, n := javaDecodeRune(b)
		out.WriteRune(r)
		b = b[n:]
	}
	return out.String()
}

// javaDecodeRune returns the first character of b, or U+FFFD, and the
// number of bytes Java's decoder consumes for it.
func javaDecodeRune(b []byte) (rune, int) {
	switch c := b[0]; {
	case c < 0x80:
		return rune(c), 1
	case c >= 0xC2 && c <= 0xDF:
		if len(b) < 2 || !isContinuation(b[1]) {
			return utf8.RuneError, 1
		}
		return rune(c&0x1F)<<6 | rune(b[1]&0x3F), 2
	case c >= 0xE0 && c <= 0xEF:
		return javaDecodeRune3(b)
	case c >= 0xF0 && c <= 0xF7:
		return javaDecodeRune4(b)
	}
	return utf8.RuneError, 1
}

func javaDecodeRune3(b []byte) (rune, int) {
	overlong := len(b) > 1 && b[0] == 0xE0 && b[1]&0xE0 == 0x80
	switch {
	case len(b) == 1:
		return utf8.RuneError, 1
	case len(b) == 2 && (overlong || !isContinuation(b[1])):
		return utf8.RuneError, 1
	case len(b) == 2:
		return utf8.RuneError, 2 // cut short at the end
	case overlong || !isContinuation(b[1]):
		return utf8.RuneError, 1
	case !isContinuation(b[2]):
		return utf8.RuneError, 2
	}
	r := rune(b[0]&0x0F)<<12 | rune(b[1]&0x3F)<<6 | rune(b[2]&0x3F)
	if r >= 0xD800 && r <= 0xDFFF {
		return utf8.RuneError, 3
	}
	return r, 3
}

func javaDecodeRune4(b []byte) (rune, int) {
	switch {
	case len(b) == 1:
		return utf8.RuneError, 1
	case b[0] > 0xF4 || !isContinuation(b[1]) || b[0] == 0xF0 && b[1] < 0x90 || b[0] == 0xF4 && b[1] > 0x8F:
		return utf8.RuneError, 1 // not a lead byte, overlong or above U+10FFFF
	case len(b) == 2:
		return utf8.RuneError, 2 // cut short at the end
	case !isContinuation(b[2]):
		return utf8.RuneError, 2
	case len(b) == 3:
		return utf8.RuneError, 3 // cut short at the end
	case !isContinuation(b[3]):
		return utf8.RuneError, 3
	}
	return rune(b[0]&0x07)<<18 | rune(b[1]&0x3F)<<12 | rune(b[2]&0x3F)<<6 | rune(b[3]&0x3F), 4
}

func isContinuation(c byte) bool { return c&0xC0 == 0x80 }
