package kafka

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// ErrNoMatchingRule is returned by PrincipalMapper.Map for a distinguished
// name that no rule matches. Kafka rejects such a client at authentication.
var ErrNoMatchingRule = errors.New("kenvelope: no principal mapping rule matches")

// Grammar of ssl.principal.mapping.rules, as Apache Kafka's
// SslPrincipalMapper (clients module) parses it. Groups: 1 DEFAULT,
// 2 pattern, 3 replacement, 4 L or U flag, 5 anything else.
const principalRulePattern = `(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?)`

var (
	principalRuleSplitter = regexp.MustCompile(`\s*(` + principalRulePattern + `)\s*(?:,\s*|$)`)
	principalRuleParser   = regexp.MustCompile(`^(?:` + principalRulePattern + `)`)
)

// PrincipalMapper applies a broker's ssl.principal.mapping.rules to the
// subject of a client certificate, predicting the principal that ACLs must
// name for that certificate. It is safe for concurrent use.
type PrincipalMapper struct {
	rules []principalRule
}

type principalRule struct {
	isDefault   bool
	source      string         // pattern as written, for String
	replacement string         // as written, for String
	whole       *regexp.Regexp // pattern anchored at both ends
	re          *regexp.Regexp // pattern as written, for the replacement
	parts       []replacementPart
	lower       bool
	upper       bool
}

// replacementPart is literal text, or a reference to capture group group
// when group >= 0.
type replacementPart struct {
	literal string
	group   int
}

// ParsePrincipalMappingRules parses a value of the broker setting
// ssl.principal.mapping.rules: a comma-separated list of DEFAULT and
// RULE:pattern/replacement/ entries, each optionally ending in L or U to
// lower- or upper-case the result. Kafka's default value is "DEFAULT";
// an empty string has no rules, so every Map call fails.
//
// Patterns are Java regular expressions, compiled here with Go's RE2
// syntax. RE2 has no lookaround, backreferences or possessive quantifiers,
// so a pattern that uses them is an error. Replacements go through the same
// two steps as in Kafka: first Kafka's escaping, which turns a $n naming a
// group the pattern does not have into literal text, then java.util.regex,
// where $n and ${name} refer to groups and a backslash quotes the next
// character. Kafka accepts every replacement at startup and fails the
// authentication of each client whose name the rule matches when Java
// rejects the replacement (a lone $, or $1\$5, which Kafka's escaping turns
// into a reference to a missing group 5). Such a replacement is an error
// here, at parse time.
func ParsePrincipalMappingRules(rules string) (*PrincipalMapper, error) {
	rules = strings.TrimFunc(rules, func(r rune) bool { return r <= ' ' })
	m := &PrincipalMapper{}
	for i, sm := range principalRuleSplitter.FindAllStringSubmatch(rules, -1) {
		rule, err := parsePrincipalRule(sm[1])
		if err != nil {
			return nil, fmt.Errorf("kenvelope: ssl.principal.mapping.rules entry %d %q: %w", i+1, sm[1], err)
		}
		if rule != nil {
			m.rules = append(m.rules, *rule)
		}
	}
	return m, nil
}

// parsePrincipalRule returns nil for an empty entry, which Kafka ignores.
func parsePrincipalRule(text string) (*principalRule, error) {
	loc := principalRuleParser.FindStringSubmatchIndex(text)
	if loc == nil || loc[1] != len(text) {
		end := 0
		if loc != nil {
			end = loc[1]
		}
		return nil, fmt.Errorf("invalid rule, unmatched text %q", text[end:])
	}
	group := func(n int) (string, bool) {
		if loc[2*n] < 0 {
			return "", false
		}
		return text[loc[2*n]:loc[2*n+1]], true
	}
	if _, ok := group(1); ok {
		return &principalRule{isDefault: true}, nil
	}
	pattern, ok := group(2)
	if !ok {
		return nil, nil
	}
	replacement, _ := group(3)
	flag, _ := group(4)
	return newPrincipalRule(pattern, replacement, flag)
}

func newPrincipalRule(pattern, replacement, flag string) (*principalRule, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern is not valid RE2 syntax: %w", err)
	}
	var parts []replacementPart
	escaped, err := kafkaEscapeReplacement(utf16.Encode([]rune(replacement)), re.NumSubexp())
	if err == nil {
		parts, err = compileReplacement(escaped, re)
	}
	if err != nil {
		return nil, fmt.Errorf("replacement %q: %w; Kafka fails the authentication of every name this rule matches", replacement, err)
	}
	return &principalRule{
		source:      pattern,
		replacement: replacement,
		whole:       regexp.MustCompile(`\A(?:` + pattern + `)\z`),
		re:          re,
		parts:       parts,
		lower:       flag == "L",
		upper:       flag == "U",
	}, nil
}

// Map returns the short name Kafka derives from distinguishedName (in
// RFC 2253 form, see SubjectDN): the result of the first rule whose pattern
// matches the whole name. DEFAULT matches any name and returns it as is.
// It returns ErrNoMatchingRule when no rule matches.
func (m *PrincipalMapper) Map(distinguishedName string) (string, error) {
	for i := range m.rules {
		if name, ok := m.rules[i].apply(distinguishedName); ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w distinguished name %q (%d rules)", ErrNoMatchingRule, distinguishedName, len(m.rules))
}

// Principal returns the principal, such as "User:alice", that a broker with
// these rules and the default principal builder assigns to a client
// authenticating with cert.
func (m *PrincipalMapper) Principal(cert *x509.Certificate) (string, error) {
	dn, err := SubjectDN(cert)
	if err != nil {
		return "", err
	}
	name, err := m.Map(dn)
	if err != nil {
		return "", err
	}
	return "User:" + name, nil
}

// String returns the parsed rules, comma-separated, in the form Kafka's
// SslPrincipalMapper prints them.
func (m *PrincipalMapper) String() string {
	out := make([]string, len(m.rules))
	for i, r := range m.rules {
		out[i] = r.String()
	}
	return strings.Join(out, ", ")
}

func (r *principalRule) String() string {
	if r.isDefault {
		return "DEFAULT"
	}
	s := "RULE:" + r.source + "/" + r.replacement
	switch {
	case r.lower:
		s += "/L"
	case r.upper:
		s += "/U"
	}
	return s
}

// apply mirrors Java's Matcher.matches followed by String.replaceAll and
// the L or U flag. The flags use the full Unicode case mappings of Java's
// toLowerCase and toUpperCase(Locale.ENGLISH), so ß becomes SS and a final
// Σ becomes ς, which strings.ToUpper and ToLower do not do. A cases.Caser
// is not safe for concurrent use, so each call makes its own.
//
// NOTE: Java's replaceAll also replaces an empty match right after a
// non-empty one (with pattern .* the name "a" becomes the replacement
// twice); Go's regexp skips such a match. Rules anchored with ^ or $, as in
// Kafka's documentation, cannot produce it.
func (r *principalRule) apply(dn string) (string, bool) {
	if r.isDefault {
		return dn, true
	}
	if !r.whole.MatchString(dn) {
		return "", false
	}
	var b strings.Builder
	last := 0
	for _, loc := range r.re.FindAllStringSubmatchIndex(dn, -1) {
		b.WriteString(dn[last:loc[0]])
		for _, p := range r.parts {
			if p.group < 0 {
				b.WriteString(p.literal)
			} else if loc[2*p.group] >= 0 {
				b.WriteString(dn[loc[2*p.group]:loc[2*p.group+1]])
			}
		}
		last = loc[1]
	}
	b.WriteString(dn[last:])

	out := b.String()
	switch {
	case r.lower:
		out = cases.Lower(language.English).String(out)
	case r.upper:
		out = cases.Upper(language.English).String(out)
	}
	return out, true
}

// kafkaEscapeReplacement returns repl, in UTF-16 code units as Java
// indexes strings, after the escaping Kafka's SslPrincipalMapper applies
// before String.replaceAll (Rule.escapeLiteralBackReferences).
// When the pattern has groups, each $n not starting with 0 is shortened by
// dropping trailing digits while n > 9 names no group, and when it still
// names none a backslash is inserted before its $. Kafka finds the
// references in the original string but inserts into the escaped one, so
// after the first insertion later backslashes land earlier than their $.
// That is copied too, because it decides which names the broker rejects.
func kafkaEscapeReplacement(repl []uint16, groups int) ([]uint16, error) {
	if groups == 0 {
		return repl, nil
	}
	out := append([]uint16(nil), repl...)
	for i := 0; i < len(repl); i++ {
		if repl[i] != '$' || i+1 == len(repl) || !isDigit16(repl[i+1]) {
			continue
		}
		end := i + 1
		for end < len(repl) && isDigit16(repl[end]) {
			end++
		}
		digits := string(utf16.Decode(repl[i+1 : end]))
		if digits[0] != '0' {
			n, err := strconv.ParseInt(digits, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("group reference $%s does not fit a Java int", digits)
			}
			for n > int64(groups) && n >= 10 {
				n /= 10
			}
			if n > int64(groups) {
				out = slices.Insert(out, i, '\\')
			}
		}
		i = end - 1
	}
	return out, nil
}

// compileReplacement splits a replacement string, after Kafka's escaping,
// into literal text and group references, as Java's Matcher.replaceAll
// reads it. It works on UTF-16 code units so that a backslash Kafka put
// between the two halves of a surrogate pair is read as Java reads it.
func compileReplacement(repl []uint16, re *regexp.Regexp) ([]replacementPart, error) {
	var parts []replacementPart
	var lit []uint16
	flush := func() {
		if len(lit) > 0 {
			parts = append(parts, replacementPart{literal: string(utf16.Decode(lit)), group: -1})
			lit = nil
		}
	}
	for i := 0; i < len(repl); {
		switch repl[i] {
		case '\\':
			if i+1 == len(repl) {
				return nil, errors.New("backslash at the end quotes nothing")
			}
			lit = append(lit, repl[i+1])
			i += 2
		case '$':
			ref, next, err := parseGroupRef(repl, i+1, re)
			if err != nil {
				return nil, err
			}
			flush()
			parts = append(parts, replacementPart{group: ref})
			i = next
		default:
			lit = append(lit, repl[i])
			i++
		}
	}
	flush()
	return parts, nil
}

// parseGroupRef parses the group reference after a $ at repl[i:] and
// returns the group and the index after the reference.
func parseGroupRef(repl []uint16, i int, re *regexp.Regexp) (ref, next int, err error) {
	if i == len(repl) {
		return 0, 0, errors.New("$ at the end names no group")
	}
	if repl[i] == '{' {
		return parseNamedGroupRef(repl, i+1, re)
	}
	if !isDigit16(repl[i]) {
		return 0, 0, fmt.Errorf("$ followed by %q is not a group reference; write \\$ for a literal $", rune(repl[i]))
	}

	// java.util.regex: the first digit, then each further digit while the
	// number still names an existing group.
	groups := re.NumSubexp()
	ref, next = int(repl[i]-'0'), i+1
	for next < len(repl) && isDigit16(repl[next]) {
		n := ref*10 + int(repl[next]-'0')
		if n > groups {
			break
		}
		ref, next = n, next+1
	}
	if ref > groups {
		return 0, 0, fmt.Errorf("pattern has no group %d", ref)
	}
	return ref, next, nil
}

// parseNamedGroupRef parses the name and closing } of a ${name} reference
// that starts at repl[i:]. Java allows only ASCII letters and digits in it.
func parseNamedGroupRef(repl []uint16, i int, re *regexp.Regexp) (ref, next int, err error) {
	end := i
	for end < len(repl) && isASCIIAlnum(repl[end]) {
		end++
	}
	name := string(utf16.Decode(repl[i:end]))
	switch {
	case name == "":
		return 0, 0, errors.New("named group reference has an empty name")
	case end == len(repl) || repl[end] != '}':
		return 0, 0, errors.New("named group reference is missing its closing }")
	case isDigit16(repl[i]):
		return 0, 0, fmt.Errorf("group name %q starts with a digit", name)
	}
	if ref = re.SubexpIndex(name); ref < 0 {
		return 0, 0, fmt.Errorf("pattern has no group named %q", name)
	}
	return ref, end + 1, nil
}

func isDigit16(c uint16) bool { return c >= '0' && c <= '9' }

func isASCIIAlnum(c uint16) bool {
	return isDigit16(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
