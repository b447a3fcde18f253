package fields

// jsonSpan is a value of the record that the codec replaces.
type jsonSpan struct {
	start, end int
	path       string
}

// jsonSeg is one step of the walker's current path. A member name is kept
// as the raw bytes of its JSON string, decoded only when a path is
// formatted.
type jsonSeg struct {
	index      int // -1 for a member
	start, end int // the member's JSON string in src
}

// jsonWalker walks a JSON document and the Selection's tree together and
// collects the spans to replace.
type jsonWalker struct {
	src     []byte
	encrypt bool
	nulls   NullPolicy
	hits    []int
	path    []jsonSeg
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
		next, err := w.children(buf[:0], nodes, i, keyEnd)
		if err != nil {
			return 0, err
		}
		w.path = append(w.path, jsonSeg{index: -1, start: i, end: keyEnd})
		i = skipSpace(w.src, keyEnd)
		i = skipSpace(w.src, i+1) // ':'
		if i, err = w.value(i, next); err != nil {
			return 0, err
		}
		w.path = w.path[:len(w.path)-1]
		i = skipSpace(w.src, i)
		if w.src[i] == ',' {
			i = skipSpace(w.src, i+1)
		}
	}
	return i + 1, nil
}

// children returns the tree nodes that the member whose JSON name is
// src[start:end] moves nodes to.
func (w *jsonWalker) children(dst, nodes []*Node, start, end int) ([]*Node, error) {
	if len(nodes) == 0 {
		return dst, nil
	}
	name, err := stringText(w.src[start:end])
	if err != nil {
		return nil, &InvalidRecordError{Format: "JSON", Offset: start, Reason: "member name does not decode"}
	}
	for _, n := range nodes {
		dst = n.Member(dst, string(name))
	}
	return dst, nil
}

func (w *jsonWalker) array(i int, nodes []*Node) (int, error) {
	var buf [4]*Node
	i = skipSpace(w.src, i+1)
	for k := 0; w.src[i] != ']'; k++ {
		next := buf[:0]
		for _, n := range nodes {
			next = n.Element(next, k)
		}
		w.path = append(w.path, jsonSeg{index: k})
		var err error
		if i, err = w.value(i, next); err != nil {
			return 0, err
		}
		w.path = w.path[:len(w.path)-1]
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
		return fieldErr(w.formatPath(), ErrNullField)
	case w.encrypt:
		w.spans = append(w.spans, jsonSpan{start: start, end: end, path: w.formatPath()})
		return nil
	case v[0] == '"' && markedString(v):
		w.spans = append(w.spans, jsonSpan{start: start, end: end, path: w.formatPath()})
		return nil
	default:
		return fieldErr(w.formatPath(), ErrNotEncrypted)
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
		return fieldErr(w.formatPath(), ErrMarkerInClear)
	}
	w.spans = append(w.spans, jsonSpan{start: start, end: end, path: w.formatPath()})
	return nil
}

// formatPath returns the canonical text of the current path.
func (w *jsonWalker) formatPath() string {
	segs := make([]Segment, len(w.path))
	for i, s := range w.path {
		if s.index >= 0 {
			segs[i] = Segment{Kind: Index, Index: s.index}
			continue
		}
		// The document passed json.Valid, so every member name decodes.
		name, _ := stringText(w.src[s.start:s.end])
		segs[i] = Segment{Kind: Member, Name: string(name)}
	}
	return FormatSegments(segs)
}
