package kafka

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
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
// X500Principal.getName(). It differs from
// pkix.Name.String: attributes keep the certificate's order (last RDN
// first), only CN, C, L, ST, STREET, O, OU, UID and DC are printed by name,
// other types (emailAddress, serialNumber) as OID=#hex of their DER
// encoding, and each of , = + < > # ; " \ is escaped with a backslash.
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

func decodeDirectoryString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", false
	}
	switch v.Tag {
	case tagUTF8String, tagPrintableString, tagIA5String:
		return string(v.Bytes), true
	case tagT61String, tagGeneralString:
		return latin1(v.Bytes), true
	case tagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// escapeRFC2253 escapes as Java's AVA.toRFC2253String does: each special
// character anywhere, NUL as \00, and each leading or trailing space.
func escapeRFC2253(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case strings.ContainsRune(`,=+<>#;"\`, c):
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == 0:
			b.WriteString(`\00`)
		default:
			b.WriteRune(c)
		}
	}
	out := b.String()
	trimmed := strings.TrimLeft(out, " ")
	lead := len(out) - len(trimmed)
	core := strings.TrimRight(trimmed, " ")
	trail := len(trimmed) - len(core)
	return strings.Repeat(`\ `, lead) + core + strings.Repeat(`\ `, trail)
}
