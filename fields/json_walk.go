package fields

// jsonSpan is a value of the record that the codec replaces. path is its
// concrete path, which the sealed value is bound to. shown is the path
// that errors print (see FieldError).
type jsonSpan struct {
	start, end int
	path       string
	shown      string
}

// jsonSeg is one step of the walker's current path. A member name is kept
// as the raw bytes of its JSON string, decoded only when a path is
// formatted.
type jsonSeg struct {
	index      int  // -1 for a member
	start, end int  // the member's JSON string in src
	named      bool // a configured path names the member literally
}

// jsonWalker walks a JSON document and the Selection's tree together and
// collects the spans to replace.
type jsonWalker struct {
	src     []byte
	encrypt bool
	nulls   NullPolicy
	hits    []int
	path    []jsonSeg
	hidden  int // members on path that errors show as "*"
	spans   []jsonSpan
}

func (w *jsonWalker) value(i int, nodes []*Node) (int, error) {
	if rule := Selected(nodes); rule >= 0 {
		w.hits[rule]++
		end := valueEnd(w.src, i)
		return end, w.selected(i, end)
	}
	switch w.src[i] {
	case '{':
		return w.object(i, nodes)
	case '[':
		return w.array(i, nodes)
	case '"':
		end := stringEnd(w.src, i)
		return end, w.unselected(i, end)
	default:
		return scalarEnd(w.src, i), nil
	}
}

func (w *jsonWalker) object(i int, nodes []*Node) (int, error) {
	var buf [4]*Node
	i = skipSpace(w.src, i+1)
	for w.src[i] != '}' {
		keyEnd := stringEnd(w.src, i)
		if !validName(w.src[i+1 : keyEnd-1]) {
			return 0, &InvalidRecordError{Format: "JSON", Offset: i,
				Reason: "member name is not valid Unicode: invalid UTF-8 or an unpaired surrogate escape"}
		}
		next, named, err := w.children(buf[:0], nodes, i, keyEnd)
		if err != nil {
			return 0, err
		}
		w.push(jsonSeg{index: -1, start: i, end: keyEnd, named: named})
		i = skipSpace(w.src, keyEnd)
		i = skipSpace(w.src, i+1) // ':'
		if i, err = w.value(i, next); err != nil {
			return 0, err
		}
		w.pop()
		i = skipSpace(w.src, i)
		if w.src[i] == ',' {
			i = skipSpace(w.src, i+1)
		}
	}
	return i + 1, nil
}

// children returns the tree nodes that the member whose JSON name is
// src[start:end] moves nodes to, and whether one of nodes names it
// literally.
func (w *jsonWalker) children(dst, nodes []*Node, start, end int) ([]*Node, bool, error) {
	if len(nodes) == 0 {
		return dst, false, nil
	}
	name, err := stringText(w.src[start:end])
	if err != nil {
		return nil, false, &InvalidRecordError{Format: "JSON", Offset: start, Reason: "member name does not decode"}
	}
	text, named := string(name), false
	for _, n := range nodes {
		dst = n.Member(dst, text)
		named = named || n.Names(text)
	}
	return dst, named, nil
}

func (w *jsonWalker) push(s jsonSeg) {
	if s.index < 0 && !s.named {
		w.hidden++
	}
	w.path = append(w.path, s)
}

func (w *jsonWalker) pop() {
	if s := w.path[len(w.path)-1]; s.index < 0 && !s.named {
		w.hidden--
	}
	w.path = w.path[:len(w.path)-1]
}

func (w *jsonWalker) array(i int, nodes []*Node) (int, error) {
	var buf [4]*Node
	i = skipSpace(w.src, i+1)
	for k := 0; w.src[i] != ']'; k++ {
		next := buf[:0]
		for _, n := range nodes {
			next = n.Element(next, k)
		}
		w.push(jsonSeg{index: k})
		var err error
		if i, err = w.value(i, next); err != nil {
			return 0, err
		}
		w.pop()
		i = skipSpace(w.src, i)
		if w.src[i] == ',' {
			i = skipSpace(w.src, i+1)
		}
	}
	return i + 1, nil
}

// selected handles a value at a selected path.
func (w *jsonWalker) selected(start, end int) error {
	v := w.src[start:end]
	isNull := string(v) == "null"
	switch {
	case isNull && w.nulls == KeepNull:
		return nil
	case isNull && w.nulls == RejectNull && w.encrypt:
		return fieldErr(w.shownPath(), ErrNullField)
	case w.encrypt || (v[0] == '"' && markedString(v)):
		w.addSpan(start, end)
		return nil
	default:
		return fieldErr(w.shownPath(), ErrNotEncrypted)
	}
}

// unselected handles a string outside every selected path. A producer
// rejects one that looks like ciphertext; a consumer opens it, so that a
// record is never returned with a field still sealed.
func (w *jsonWalker) unselected(start, end int) error {
	if !markedString(w.src[start:end]) {
		return nil
	}
	if w.encrypt {
		return fieldErr(w.shownPath(), ErrMarkerInClear)
	}
	w.addSpan(start, end)
	return nil
}

func (w *jsonWalker) addSpan(start, end int) {
	path := w.formatPath(false)
	shown := path
	if w.hidden > 0 {
		shown = w.formatPath(true)
	}
	w.spans = append(w.spans, jsonSpan{start: start, end: end, path: path, shown: shown})
}

// shownPath returns the current path as errors show it.
func (w *jsonWalker) shownPath() string { return w.formatPath(true) }

// formatPath returns the canonical text of the current path, with the
// member names that no configured path names written "*" if hide is set.
func (w *jsonWalker) formatPath(hide bool) string {
	segs := make([]Segment, len(w.path))
	for i, s := range w.path {
		switch {
		case s.index >= 0:
			segs[i] = Segment{Kind: Index, Index: s.index}
		case hide && !s.named:
			segs[i] = Segment{Kind: AnyMember}
		default:
			// The document passed json.Valid, so every member name decodes.
			name, _ := stringText(w.src[s.start:s.end])
			segs[i] = Segment{Kind: Member, Name: string(name)}
		}
	}
	return FormatSegments(segs)
}
