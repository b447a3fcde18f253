package fields

import "fmt"

// Selection is a validated set of field paths, each required or optional.
// It is immutable and safe for concurrent use.
type Selection struct {
	paths    []Path
	optional []bool
	root     *Node
}

// SelectOpt configures NewSelection.
type SelectOpt interface{ apply(*selectConfig) }

type selectConfig struct {
	optional    map[string]bool
	allOptional bool
}

type selectOptFunc func(*selectConfig)

func (f selectOptFunc) apply(c *selectConfig) { f(c) }

// Optional marks paths, which must also appear in the path list given to
// NewSelection, as optional: a record in which such a path matches nothing
// is accepted. By default every path is required.
func Optional(paths ...string) SelectOpt {
	return selectOptFunc(func(c *selectConfig) {
		for _, p := range paths {
			c.optional[p] = true
		}
	})
}

// AllOptional marks every path as optional. By default every path is
// required, because a path that silently matches nothing leaves the field
// it was meant to protect in clear once the record's shape changes.
func AllOptional() SelectOpt {
	return selectOptFunc(func(c *selectConfig) { c.allOptional = true })
}

// NewSelection parses paths and rejects syntax errors, duplicates and
// overlapping paths: two paths overlap when one value could be selected by
// both, such as "name" and "name[0].given", or "name[*]" and "name[1]".
func NewSelection(paths []string, opts ...SelectOpt) (*Selection, error) {
	cfg := selectConfig{optional: map[string]bool{}}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("fields: no path selected: %w", ErrConfig)
	}
	s := &Selection{root: &Node{rule: -1}}
	known := map[string]bool{}
	for _, text := range paths {
		p, err := Parse(text)
		if err != nil {
			return nil, err
		}
		for _, q := range s.paths {
			if overlaps(p.segs, q.segs) {
				return nil, fmt.Errorf("fields: paths %q and %q overlap: %w", q.text, p.text, ErrConfig)
			}
		}
		known[text] = true
		s.root.insert(p.segs, len(s.paths))
		s.paths = append(s.paths, p)
		s.optional = append(s.optional, cfg.allOptional || cfg.optional[text])
	}
	for text := range cfg.optional {
		if !known[text] {
			return nil, fmt.Errorf("fields: optional path %q is not among the selected paths: %w", text, ErrConfig)
		}
	}
	return s, nil
}

// Len returns the number of paths.
func (s *Selection) Len() int { return len(s.paths) }

// Path returns the i-th path.
func (s *Selection) Path(i int) Path { return s.paths[i] }

// IsOptional reports whether the i-th path is optional.
func (s *Selection) IsOptional(i int) bool { return s.optional[i] }

// Root returns the root of the matching tree, for codecs that walk a
// record alongside it.
func (s *Selection) Root() *Node { return s.root }

// CheckHits returns a *FieldError wrapping ErrMissingField for the first
// required path whose count in hits is zero. hits has one entry per path.
func (s *Selection) CheckHits(hits []int) error {
	for i, n := range hits {
		if n == 0 && !s.optional[i] {
			return fieldErr(s.paths[i].text, ErrMissingField)
		}
	}
	return nil
}

// Node is one node of the tree that a Selection's paths form. A codec
// walks a record and the tree together: at each member or element it
// moves from the current nodes to their children, and a node with a rule
// marks a selected value.
type Node struct {
	names     map[string]*Node
	indices   map[int]*Node
	anyIndex  *Node
	anyMember *Node
	rule      int // index of the path ending here, or -1
}

func (n *Node) insert(segs []Segment, rule int) {
	if len(segs) == 0 {
		n.rule = rule
		return
	}
	child := func(p **Node) *Node {
		if *p == nil {
			*p = &Node{rule: -1}
		}
		return *p
	}
	var next *Node
	switch s := segs[0]; s.Kind {
	case Member:
		if n.names == nil {
			n.names = map[string]*Node{}
		}
		next = n.names[s.Name]
		if next == nil {
			next = &Node{rule: -1}
			n.names[s.Name] = next
		}
	case Index:
		if n.indices == nil {
			n.indices = map[int]*Node{}
		}
		next = n.indices[s.Index]
		if next == nil {
			next = &Node{rule: -1}
			n.indices[s.Index] = next
		}
	case AnyIndex:
		next = child(&n.anyIndex)
	default:
		next = child(&n.anyMember)
	}
	next.insert(segs[1:], rule)
}

// Rule returns the index of the path that ends at n, or -1.
func (n *Node) Rule() int { return n.rule }

// Member appends to dst the children of n that a member or map entry
// named name moves to.
func (n *Node) Member(dst []*Node, name string) []*Node {
	if c := n.names[name]; c != nil {
		dst = append(dst, c)
	}
	if n.anyMember != nil {
		dst = append(dst, n.anyMember)
	}
	return dst
}

// Names reports whether a path names the member name at n literally,
// rather than through "*". A codec uses it to decide whether an error may
// show a member name: a name the configuration contains is not record
// data.
func (n *Node) Names(name string) bool { return n.names[name] != nil }

// Element appends to dst the children of n that array element i moves to.
func (n *Node) Element(dst []*Node, i int) []*Node {
	if c := n.indices[i]; c != nil {
		dst = append(dst, c)
	}
	if n.anyIndex != nil {
		dst = append(dst, n.anyIndex)
	}
	return dst
}

// Selected returns the rule of the first node in nodes that ends a path,
// or -1. Because overlapping paths are rejected, at most one does.
func Selected(nodes []*Node) int {
	for _, n := range nodes {
		if n.rule >= 0 {
			return n.rule
		}
	}
	return -1
}
