package kafka

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// personKey returns the form of a person's name or address that the
// two-person rule compares: Unicode NFKC, case-folded, with format and
// control characters (zero-width spaces, joiners, byte-order marks)
// removed and runs of white space collapsed to one space and trimmed.
// "Alice@Example.org", "alice@example.org " and "alice@example.org" with
// a zero-width space are then one person.
//
// NOTE: look-alike letters from other scripts, such as a Cyrillic "а" for
// a Latin "a", still compare as different people. Catching those needs
// the confusable skeletons of Unicode TS #39, which golang.org/x/text
// (v0.43.0) does not provide. Take the names from an identity provider rather than
// from free text.
func personKey(s string) string {
	s = norm.NFKC.String(s)
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.Is(unicode.Cf, r), unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	s = norm.NFKC.String(cases.Fold().String(s))
	return strings.Join(strings.Fields(s), " ")
}
