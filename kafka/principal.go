package kafka

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
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
// so a pattern that uses them is an error. Replacements follow
// java.util.regex: $n and ${name} refer to groups, a backslash quotes the
// next character, and a reference to a group the pattern does not have is
// kept as literal text, as Kafka does. A replacement Java would reject when
// applied (such as a lone $) is an error here at parse time.
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
	parts, err := compileReplacement(replacement, re)
	if err != nil {
		return nil, fmt.Errorf("replacement %q: %w", replacement, err)
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

// apply mirrors Java's Matcher.matches followed by String.replaceAll.
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
		out = strings.ToLower(out)
	case r.upper:
		out = strings.ToUpper(out)
	}
	return out, true
}

// compileReplacement splits a Java replacement string into literal text and
// group references, after the escaping Kafka applies first: a $n whose n,
// with trailing digits dropped while n > 9, still names no group is literal
// text (unless the pattern has no groups at all).
//
// NOTE: Kafka's escaping computes positions in the original string, so in
// a replacement with two or more such references its later escapes land one
// character early and Kafka's result can differ from this one.
func compileReplacement(repl string, re *regexp.Regexp) ([]replacementPart, error) {
	groups := re.NumSubexp()
	var parts []replacementPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replacementPart{literal: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(repl); {
		switch c := repl[i]; {
		case c == '\\':
			if i+1 == len(repl) {
				return nil, errors.New("backslash at the end quotes nothing")
			}
			_, size := utf8.DecodeRuneInString(repl[i+1:])
			lit.WriteString(repl[i+1 : i+1+size])
			i += 1 + size
		case c == '$':
			ref, next, literal, err := parseGroupRef(repl, i+1, re, groups)
			if err != nil {
				return nil, err
			}
			if literal != "" {
				lit.WriteString(literal)
			} else {
				flush()
				parts = append(parts, replacementPart{group: ref})
			}
			i = next
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return parts, nil
}

// parseGroupRef parses the reference after a $ at repl[i:]. It returns the
// group and the index after the reference, or literal text for a reference
// that Kafka escapes.
func parseGroupRef(repl string, i int, re *regexp.Regexp, groups int) (ref, next int, literal string, err error) {
	if i == len(repl) {
		return 0, 0, "", errors.New("$ at the end names no group")
	}
	if repl[i] == '{' {
		end := strings.IndexByte(repl[i:], '}')
		if end < 0 {
			return 0, 0, "", errors.New("named group reference is missing its closing }")
		}
		name := repl[i+1 : i+end]
		if ref = re.SubexpIndex(name); ref < 0 {
			return 0, 0, "", fmt.Errorf("pattern has no group named %q", name)
		}
		return ref, i + end + 1, "", nil
	}
	if !isDigit(repl[i]) {
		return 0, 0, "", fmt.Errorf("$ followed by %q is not a group reference; write \\$ for a literal $", repl[i])
	}
	end := i
	for end < len(repl) && isDigit(repl[end]) {
		end++
	}
	digits := repl[i:end]
	if groups > 0 && digits[0] != '0' && kafkaEscapesRef(digits, groups) {
		return 0, end, "$" + digits, nil
	}

	// java.util.regex: the first digit, then each further digit while the
	// number still names an existing group.
	ref, next = int(digits[0]-'0'), i+1
	for next < end {
		n := ref*10 + int(repl[next]-'0')
		if n > groups {
			break
		}
		ref, next = n, next+1
	}
	if ref > groups {
		return 0, 0, "", fmt.Errorf("pattern has no group %d", ref)
	}
	return ref, next, "", nil
}

// kafkaEscapesRef reports whether Kafka turns $digits into literal text.
func kafkaEscapesRef(digits string, groups int) bool {
	if len(digits) > 9 {
		digits = digits[:9] // larger than any group count; avoids overflow
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
	}
	for n > groups && n >= 10 {
		n /= 10
	}
	return n > groups
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
