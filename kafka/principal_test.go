package kafka_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/kafka"
)

// kafkaDocRules is the example value of ssl.principal.mapping.rules in
// Apache Kafka's documentation (Security, "Customizing SSL User Name").
const kafkaDocRules = `RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,
RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,
RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,
DEFAULT`

func ExampleParsePrincipalMappingRules() {
	m, err := kafka.ParsePrincipalMappingRules(`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, dn := range []string{"CN=Claims-Writer,OU=ServiceUsers,O=Clinic,C=US", "CN=alice,OU=Staff,O=Clinic"} {
		name, _ := m.Map(dn)
		fmt.Println(name)
	}
	// Output:
	// claims-writer
	// CN=alice,OU=Staff,O=Clinic
}

func TestPrincipalMapperKafkaDocs(t *testing.T) {
	m, err := kafka.ParsePrincipalMappingRules(kafkaDocRules)
	if err != nil {
		t.Fatalf("ParsePrincipalMappingRules() err = %v", err)
	}
	tests := []struct{ dn, want string }{
		// The two translations the documentation states.
		{"CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown", "serviceuser"},
		{"CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown", "adminuser@admin"},
		// The third rule, and DEFAULT for a name without CN.
		{"OU=Billing,CN=Claims.Service2,O=Clinic", "claims.service2"},
		{"OU=JavaSoft,O=Sun Microsystems,C=US", "OU=JavaSoft,O=Sun Microsystems,C=US"},
	}
	for _, tc := range tests {
		got, err := m.Map(tc.dn)
		if err != nil || got != tc.want {
			t.Errorf("Map(%q) = %q, %v, want %q", tc.dn, got, err, tc.want)
		}
	}
}

// Vectors from Kafka's SslPrincipalMapperTest (clients module), which
// pins the behaviour of the broker's own parser.
func TestPrincipalMapperKafkaVectors(t *testing.T) {
	rules := "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, " +
		"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, " +
		"RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U, " +
		"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, " +
		"DEFAULT"
	m, err := kafka.ParsePrincipalMappingRules(rules)
	if err != nil {
		t.Fatalf("ParsePrincipalMappingRules() err = %v", err)
	}
	tests := []struct{ dn, want string }{
		{"CN=Duke,OU=ServiceUsers,O=Org,C=US", "duke"},
		{"CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US", "duke@sme"},
		{"cn=duke,ou=sme,dc=mycp,dc=com", "DUKE@SME"},
		{"cN=duke,OU=JavaSoft,O=Sun Microsystems", "DUKE"},
		{"OU=JavaSoft,O=Sun Microsystems,C=US", "OU=JavaSoft,O=Sun Microsystems,C=US"},
	}
	for _, tc := range tests {
		if got, err := m.Map(tc.dn); err != nil || got != tc.want {
			t.Errorf("Map(%q) = %q, %v, want %q", tc.dn, got, err, tc.want)
		}
	}
}

func TestPrincipalMapperCommaInName(t *testing.T) {
	m, err := kafka.ParsePrincipalMappingRules(`RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT`)
	if err != nil {
		t.Fatalf("ParsePrincipalMappingRules() err = %v", err)
	}
	if got, err := m.Map(`CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz`); err != nil || got != `Tkac\, Adam` {
		t.Errorf(`Map() = %q, %v, want "Tkac\, Adam"`, got, err)
	}
}

func TestParsePrincipalMappingRulesValid(t *testing.T) {
	for _, rules := range []string{
		"DEFAULT",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
		"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
		"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
		"RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
		"RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
		"RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
	} {
		if _, err := kafka.ParsePrincipalMappingRules(rules); err != nil {
			t.Errorf("ParsePrincipalMappingRules(%q) err = %v, want nil", rules, err)
		}
	}
}

func TestParsePrincipalMappingRulesInvalid(t *testing.T) {
	for _, rules := range []string{
		"default",
		"DEFAUL",
		"DEFAULT/L",
		"DEFAULT/U",
		"RULE:CN=(.*?),OU=ServiceUsers.*/$1",
		"rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
		// Valid in Java, not in RE2: a lookahead.
		"RULE:^CN=(?=svc)(.*)$/$1/",
		// A lone $ in the replacement, which Java rejects when applied.
		"RULE:^CN=(.*)$/$/",
		// Kafka's escaping turns \$5 into \\$5, a reference to group 5.
		`RULE:^CN=(.*)$/$1\$5/`,
		// Kafka escapes the second missing group one character early, so
		// $6 stays a reference to a missing group.
		`RULE:^CN=(.*)$/$1-$5-$6/`,
		// Kafka's Integer.parseInt throws on a number above 2^31-1.
		`RULE:^CN=(.*)$/$99999999999/`,
		// Java group names are ASCII letters and digits only.
		`RULE:^CN=(?P<a_b>.*)$/${a_b}/`,
		`RULE:^CN=(.*)$/${}/`,
	} {
		if m, err := kafka.ParsePrincipalMappingRules(rules); err == nil {
			t.Errorf("ParsePrincipalMappingRules(%q) = [%v], want error", rules, m)
		}
	}
}

// Splitting vectors from Kafka's SslPrincipalMapperTest: the input and
// the rules as Kafka prints them after parsing.
func TestParsePrincipalMappingRulesSplit(t *testing.T) {
	tests := []struct{ want, rules string }{
		{"", ""},
		{"DEFAULT", "DEFAULT"},
		{"RULE:/", "RULE://"},
		{"RULE:/.*", "RULE:/.*/"},
		{"RULE:/.*/L", "RULE:/.*/L"},
		{"RULE:/, DEFAULT", "RULE://,DEFAULT"},
		{"RULE:/, DEFAULT", "  RULE:// ,  DEFAULT  "},
		{"RULE:   /     , DEFAULT", "  RULE:   /     / ,  DEFAULT  "},
		{"RULE:  /     /U, DEFAULT", "  RULE:  /     /U   ,DEFAULT  "},
		{"RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT", "  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  "},
		{"", ",   , , ,      , , ,   "},
		{"RULE:/, DEFAULT", ",,RULE://,,,DEFAULT,,"},
		{"RULE: /   , DEFAULT", ",  , RULE: /   /    ,,,   DEFAULT, ,   "},
		{"RULE:   /  /U, DEFAULT", "     ,  , RULE:   /  /U    ,,  ,DEFAULT, ,"},
		{`RULE:\/\\\(\)\n\t/\/\/`, `RULE:\/\\\(\)\n\t/\/\//`},
		{
			`RULE:,RULE:,/,RULE:,\//U, RULE:,/RULE:,, RULE:,RULE:,/L,RULE:,/L, RULE:, DEFAULT, /DEFAULT, DEFAULT`,
			`RULE:,RULE:,/,RULE:,\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT`,
		},
	}
	for _, tc := range tests {
		m, err := kafka.ParsePrincipalMappingRules(tc.rules)
		if err != nil {
			t.Errorf("ParsePrincipalMappingRules(%q) err = %v", tc.rules, err)
			continue
		}
		if got := m.String(); got != tc.want {
			t.Errorf("ParsePrincipalMappingRules(%q) = [%s], want [%s]", tc.rules, got, tc.want)
		}
	}
}

func TestPrincipalMapperReplacement(t *testing.T) {
	tests := []struct{ name, rules, dn, want string }{
		{"literal out-of-range ref", `RULE:^CN=(\w+)$/$1-$5/`, "CN=svc", "svc-$5"},
		{"truncated ref", `RULE:^CN=(\w+)$/$12/`, "CN=svc", "svc2"},
		{"named group", `RULE:^CN=(?<name>\w+)$/${name}@x/`, "CN=svc", "svc@x"},
		{"escaped dollar", `RULE:^CN=(\w+)$/\$1/`, "CN=svc", "$1"},
		{"unmatched optional group", `RULE:^CN=(\w+)(,OU=\w+)?$/$1$2/`, "CN=svc", "svc"},
		{"upper", `RULE:^CN=(\w+)$/$1/U`, "CN=svc", "SVC"},
		{"zero-led ref read by Java as group 1", `RULE:^CN=(\w+)$/$01/`, "CN=svc", "svc"},
		{"ref escaped by Kafka next to text", `RULE:^CN=(\w+)$/x$7y$1/`, "CN=svc", "x$7ysvc"},
		{"non-ASCII literal", `RULE:^CN=(\w+)$/é-$1-😀/`, "CN=svc", "é-svc-😀"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := kafka.ParsePrincipalMappingRules(tc.rules)
			if err != nil {
				t.Fatalf("ParsePrincipalMappingRules() err = %v", err)
			}
			if got, err := m.Map(tc.dn); err != nil || got != tc.want {
				t.Errorf("Map(%q) = %q, %v, want %q", tc.dn, got, err, tc.want)
			}
		})
	}
}

func TestPrincipalMapperNoMatch(t *testing.T) {
	m, err := kafka.ParsePrincipalMappingRules(`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/`)
	if err != nil {
		t.Fatalf("ParsePrincipalMappingRules() err = %v", err)
	}
	if _, err := m.Map("CN=x,OU=Other"); !errors.Is(err, kafka.ErrNoMatchingRule) {
		t.Errorf("Map() err = %v, want ErrNoMatchingRule", err)
	}
}

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidL     = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidST    = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidDC    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// certWithSubject returns a self-signed certificate whose subject is rdns
// encoded as given, first RDN first.
func certWithSubject(t *testing.T, rdns pkix.RDNSequence) *x509.Certificate {
	t.Helper()
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), RawSubject: raw, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func rdn(oid asn1.ObjectIdentifier, value any) []pkix.AttributeTypeAndValue {
	return []pkix.AttributeTypeAndValue{{Type: oid, Value: value}}
}

func TestSubjectDN(t *testing.T) {
	tests := []struct {
		name string
		rdns pkix.RDNSequence
		want string
	}{
		{
			"kafka doc subject",
			pkix.RDNSequence{rdn(oidC, "Unknown"), rdn(oidST, "Unknown"), rdn(oidL, "Unknown"),
				rdn(oidO, "Unknown"), rdn(oidOU, "ServiceUsers"), rdn(oidCN, "serviceuser")},
			"CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown",
		},
		{
			"escaped comma and domain components",
			pkix.RDNSequence{rdn(oidDC, "cz"), rdn(oidDC, "geodis"), rdn(oidOU, "ITZ"), rdn(oidCN, "Tkac, Adam")},
			`CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz`,
		},
		{
			"email as OID and hex",
			pkix.RDNSequence{rdn(oidO, "Clinic"), rdn(oidCN, "svc"), {{Type: oidEmail, Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte("a@b.c")}}}},
			"1.2.840.113549.1.9.1=#16056140622e63,CN=svc,O=Clinic",
		},
		{
			"multi-valued RDN and specials",
			pkix.RDNSequence{{{Type: oidOU, Value: "a+b"}, {Type: oidCN, Value: " x=#y "}}},
			`OU=a\+b+CN=\ x\=\#y\ `,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kafka.SubjectDN(certWithSubject(t, tc.rdns))
			if err != nil || got != tc.want {
				t.Errorf("SubjectDN() = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestPrincipalMapperPrincipal(t *testing.T) {
	m, err := kafka.ParsePrincipalMappingRules(kafkaDocRules)
	if err != nil {
		t.Fatalf("ParsePrincipalMappingRules() err = %v", err)
	}
	cert := certWithSubject(t, pkix.RDNSequence{rdn(oidC, "Unknown"), rdn(oidST, "Unknown"), rdn(oidL, "Unknown"),
		rdn(oidO, "Unknown"), rdn(oidOU, "Admin"), rdn(oidCN, "adminUser")})
	if got, err := m.Principal(cert); err != nil || got != "User:adminuser@admin" {
		t.Errorf("Principal() = %q, %v, want User:adminuser@admin", got, err)
	}
}

// TestPrincipalMapperEscapedDollar: Kafka's escaping finds $5 in \$5 too
// and inserts a second backslash, giving \\$5, which Java's replaceAll
// reads as a literal backslash and a reference to group 5, so Kafka throws
// "No group 5" for every name the rule matches.
func TestPrincipalMapperEscapedDollar(t *testing.T) {
	m, err := kafka.ParsePrincipalMappingRules(`RULE:^CN=(.*)$/$1\$5/`)
	if err == nil {
		got, mapErr := m.Map("CN=alice")
		t.Fatalf("ParsePrincipalMappingRules() err = nil and Map() = %q, %v; want a parse error, as Kafka fails this rule", got, mapErr)
	}
	if !strings.Contains(err.Error(), "no group 5") {
		t.Errorf("ParsePrincipalMappingRules() err = %v, want it to name group 5", err)
	}
}

// TestPrincipalCaseFlags checks the full Unicode case mappings of Java's
// toUpperCase and toLowerCase(Locale.ENGLISH), which strings.ToUpper and
// strings.ToLower do not apply.
func TestPrincipalCaseFlags(t *testing.T) {
	tests := []struct{ rules, dn, want string }{
		{`RULE:^CN=(.*)$/$1/U`, "CN=Straße", "STRASSE"},
		{`RULE:^CN=(.*)$/$1/L`, "CN=İpek", "i\u0307pek"},
		{`RULE:^CN=(.*)$/$1/L`, "CN=ΟΔΟΣ", "οδος"}, // final sigma
		{`RULE:^CN=(.*)$/$1/U`, "CN=ﬁle", "FILE"},
	}
	for _, tc := range tests {
		m, err := kafka.ParsePrincipalMappingRules(tc.rules)
		if err != nil {
			t.Fatalf("ParsePrincipalMappingRules(%q) err = %v", tc.rules, err)
		}
		if got, err := m.Map(tc.dn); err != nil || got != tc.want {
			t.Errorf("Map(%q) with %s = %q, %v, want %q", tc.dn, tc.rules, got, err, tc.want)
		}
	}
}

// TestSubjectDNJavaDecoding follows OpenJDK's AVA.toRFC2253String. It
// decodes the content bytes of every string type as UTF-8 with Java's
// replacement rules (String.decodeUTF8_UTF16 in OpenJDK 17), escapes NUL
// as \00, and escapes leading and trailing spaces and carriage returns.
// The expected values with U+FFFD are derived from that source by hand.
// Go's x509 parser accepts any bytes in a T61String, so malformed UTF-8
// goes through that type.
func TestSubjectDNJavaDecoding(t *testing.T) {
	t61 := func(b ...byte) asn1.RawValue { return asn1.RawValue{Tag: 20, Bytes: b} }
	tests := []struct {
		name  string
		value asn1.RawValue
		want  string
	}{
		// BMPString "svc" is 00 73 00 76 00 63: each 00 is a NUL.
		{"BMPString", asn1.RawValue{Tag: 30, Bytes: []byte{0, 's', 0, 'v', 0, 'c'}}, `CN=\00s\00v\00c`},
		{"T61String Latin-1 byte at the end", t61('R', 'e', 'n', 0xE9), "CN=Ren\uFFFD"},
		{"T61String holding UTF-8", t61('R', 'e', 'n', 0xC3, 0xA9), "CN=René"},
		{"lead byte and one continuation", t61(0xE9, 0x80, 'A'), "CN=\uFFFDA"},
		{"encoded surrogate", t61(0xED, 0xA0, 0x80, 'x'), "CN=\uFFFDx"},
		{"four-byte sequence cut short", t61('a', 0xF0, 0x9F, 0x98), "CN=a\uFFFD"},
		{"four-byte sequence", t61(0xF0, 0x9F, 0x98, 0x80), "CN=😀"},
		{"overlong four-byte", t61(0xF0, 0x80, 0x80, 0x80), "CN=\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"overlong three-byte", t61(0xE0, 0x80, 0x80), "CN=\uFFFD\uFFFD\uFFFD"},
		{"overlong two-byte", t61(0xC0, 0xAF), "CN=\uFFFD\uFFFD"},
		{"trailing CR", asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("svc\r")}, "CN=svc\\\r"},
		{"leading CR and space", asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("\r svc")}, "CN=\\\r\\ svc"},
		{"only spaces", asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("  ")}, `CN=\ \ `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert := certWithSubject(t, pkix.RDNSequence{{{Type: oidCN, Value: tc.value}}})
			got, err := kafka.SubjectDN(cert)
			if err != nil || got != tc.want {
				t.Errorf("SubjectDN() = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}
