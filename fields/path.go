package fields

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// SegmentKind is the kind of one step of a Path.
type SegmentKind uint8

// Segment kinds.
const (
	// Member selects the object member, record field or map entry named
	// Segment.Name.
	Member SegmentKind = iota + 1
	// AnyMember selects every member of an object or map: "*".
	AnyMember
	// Index selects the array element at Segment.Index: "[3]".
	Index
	// AnyIndex selects every array element: "[*]".
	AnyIndex
)

// maxIndex bounds an array index in a path, so that it fits an int
// everywhere and a typo such as [99999999999] is rejected early.
const maxIndex = 1<<31 - 1

// Segment is one step of a Path.
type Segment struct {
	Kind  SegmentKind
	Name  string // for Member
	Index int    // for Index
}

// Path is a parsed field path. The zero Path is invalid.
type Path struct {
	text string
	segs []Segment
}

// String returns the path in its canonical syntax.
func (p Path) String() string { return p.text }

// Segments returns the steps of p. The caller must not modify them.
func (p Path) Segments() []Segment { return p.segs }

// MustParse is like Parse but panics on a syntax error. It is meant for
// paths written as constants in a program.
func MustParse(s string) Path {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Parse parses a field path in the syntax the package documentation
// describes, or returns a *SyntaxError.
func Parse(s string) (Path, error) {
	if s == "" {
		return Path{}, &SyntaxError{Path: s, Offset: 0, Reason: "empty path"}
	}
	if !utf8.ValidString(s) {
		return Path{}, &SyntaxError{Path: s, Offset: invalidUTF8At(s), Reason: "invalid UTF-8"}
	}
	p := parser{src: s}
	segs, err := p.parse()
	if err != nil {
		return Path{}, err
	}
	return Path{text: FormatSegments(segs), segs: segs}, nil
}

type parser struct {
	src string
	pos int
}

func (p *parser) fail(reason string) error {
	return &SyntaxError{Path: p.src, Offset: p.pos, Reason: reason}
}

func (p *parser) parse() ([]Segment, error) {
	var segs []Segment
	first := true
	for p.pos < len(p.src) {
		var seg Segment
		var err error
		switch c := p.src[p.pos]; {
		case c == '[':
			seg, err = p.bracket()
		case c == '.' && !first:
			p.pos++
			seg, err = p.member()
		case c == ']':
			err = p.fail("unexpected ']'")
		case first:
			seg, err = p.member()
		default:
			err = p.fail("expected '.' or '[' after a segment")
		}
		if err != nil {
			return nil, err
		}
		segs = append(segs, seg)
		first = false
	}
	return segs, nil
}

// member parses a member name at p.pos, up to the next unescaped '.' or
// '['. A lone unescaped '*' is AnyMember.
func (p *parser) member() (Segment, error) {
	start := p.pos
	var b strings.Builder
	escaped := false
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '.' || c == '[' {
			break
		}
		if c == ']' {
			return Segment{}, p.fail("unexpected ']' in a member name; escape it as \\]")
		}
		if c == '\\' {
			if p.pos+1 >= len(p.src) || !strings.ContainsRune(`.[]\*`, rune(p.src[p.pos+1])) {
				return Segment{}, p.fail(`invalid escape: '\' must be followed by one of . [ ] \ *`)
			}
			escaped = true
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
			continue
		}
		b.WriteByte(c)
		p.pos++
	}
	if p.pos == start {
		return Segment{}, p.fail("empty member name")
	}
	if !escaped && b.Len() == 1 && b.String() == "*" {
		return Segment{Kind: AnyMember}, nil
	}
	return Segment{Kind: Member, Name: b.String()}, nil
}

// bracket parses "[*]" or "[digits]" at p.pos.
func (p *parser) bracket() (Segment, error) {
	p.pos++ // '['
	end := strings.IndexByte(p.src[p.pos:], ']')
	if end < 0 {
		return Segment{}, p.fail("missing ']'")
	}
	body := p.src[p.pos : p.pos+end]
	if body == "*" {
		p.pos += end + 1
		return Segment{Kind: AnyIndex}, nil
	}
	if body == "" || (len(body) > 1 && body[0] == '0') || strings.TrimLeft(body, "0123456789") != "" {
		return Segment{}, p.fail("array index must be '*' or a decimal number without leading zeros")
	}
	n, err := strconv.Atoi(body)
	if err != nil || n > maxIndex {
		return Segment{}, p.fail("array index too large")
	}
	p.pos += end + 1
	return Segment{Kind: Index, Index: n}, nil
}

// FormatSegments returns the canonical text of a path made of segs:
// members joined by '.', with '.', '[', ']', '\' and a lone '*' escaped by
// '\', and indices in brackets. An empty member name formats as "\0",
// which Parse rejects. Parse(FormatSegments(s)) returns s for any segs that
// Parse can produce, and two different segment lists never format alike,
// so the text can serve as associated data.
func FormatSegments(segs []Segment) string {
	var b strings.Builder
	for i, s := range segs {
		appendSegment(&b, s, i == 0)
	}
	return b.String()
}

func appendSegment(b *strings.Builder, s Segment, first bool) {
	switch s.Kind {
	case Index:
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(s.Index))
		b.WriteByte(']')
	case AnyIndex:
		b.WriteString("[*]")
	case AnyMember:
		if !first {
			b.WriteByte('.')
		}
		b.WriteByte('*')
	default:
		if !first {
			b.WriteByte('.')
		}
		switch s.Name {
		case "*":
			b.WriteString(`\*`)
			return
		case "":
			// An empty name, reachable only through a wildcard, gets a
			// form no other name has, so formats stay distinct.
			b.WriteString(`\0`)
			return
		}
		for i := 0; i < len(s.Name); i++ {
			if c := s.Name[i]; c == '.' || c == '[' || c == ']' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s.Name[i])
		}
	}
}

func invalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return 0
}

// overlaps reports whether some value could be selected by both a and b:
// one is a prefix of the other, segment by segment, where a wildcard
// matches any segment of its kind.
func overlaps(a, b []Segment) bool {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if !segmentsMeet(a[i], b[i]) {
			return false
		}
	}
	return true
}

func segmentsMeet(a, b Segment) bool {
	memberLike := func(s Segment) bool { return s.Kind == Member || s.Kind == AnyMember }
	if memberLike(a) != memberLike(b) {
		return false
	}
	switch {
	case a.Kind == AnyMember || b.Kind == AnyMember || a.Kind == AnyIndex || b.Kind == AnyIndex:
		return true
	case a.Kind == Member:
		return a.Name == b.Name
	default:
		return a.Index == b.Index
	}
}
