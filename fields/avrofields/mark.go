package avrofields

import (
	"encoding/binary"

	"github.com/hamba/avro/v2"

	"github.com/kenvelope/kenvelope/fields"
)

// span is the encoding of one marked field in a record. path is its
// concrete path, which the sealed value is bound to. shown is the path
// that errors print, in which map keys that no configured path names are
// written "*" (see fields.FieldError).
type span struct {
	start, end int
	path       string
	shown      string
	record     string // full name of the record type that has the field
	index      int    // the field's index in that record
}

// walker walks a record's encoding with its schema. The first pass
// (emit false) follows the Selection's tree, counts hits and collects the
// spans of marked fields. The second pass (emit true) writes the record
// to out with each marked field replaced by replace's output, re-encoding
// the byte size of every array or map block whose items changed length.
type walker struct {
	src   []byte
	marks marks
	hits  []int
	path  []fields.Segment
	shown []fields.Segment // path with unnamed map keys as fields.AnyMember
	// hidden counts the segments of shown that differ from path.
	hidden int
	spans  []span

	emit    bool
	out     []byte
	next    int // index of the next span, in the second pass
	replace func(k int, field []byte) ([]byte, error)
}

func (w *walker) copyTo(i, j int) {
	if w.emit {
		w.out = append(w.out, w.src[i:j]...)
	}
}

func (w *walker) walk(s avro.Schema, i, depth int, nodes []*fields.Node) (int, error) {
	if depth > maxDepth {
		return 0, invalid(i, "nesting deeper than %d", maxDepth)
	}
	switch t := deref(s).(type) {
	case *avro.RecordSchema:
		return w.record(t, i, depth, nodes)
	case *avro.ArraySchema:
		return w.array(t, i, depth, nodes)
	case *avro.MapSchema:
		return w.mapValues(t, i, depth, nodes)
	case *avro.UnionSchema:
		b, j, err := unionBranch(w.src, t, i)
		if err != nil {
			return 0, err
		}
		w.copyTo(i, j)
		return w.walk(b, j, depth+1, nodes)
	default:
		j, err := skip(w.src, t, i, depth)
		if err == nil {
			w.copyTo(i, j)
		}
		return j, err
	}
}

func (w *walker) array(t *avro.ArraySchema, i, depth int, nodes []*fields.Node) (int, error) {
	k := 0
	return w.blocks(i, zeroSize(t.Items()), func(j int) (int, error) {
		var buf [4]*fields.Node
		next := buf[:0]
		for _, n := range nodes {
			next = n.Element(next, k)
		}
		seg := fields.Segment{Kind: fields.Index, Index: k}
		w.push(seg, seg)
		k++
		j, err := w.walk(t.Items(), j, depth+1, next)
		w.pop()
		return j, err
	})
}

func (w *walker) mapValues(t *avro.MapSchema, i, depth int, nodes []*fields.Node) (int, error) {
	return w.blocks(i, false, func(j int) (int, error) {
		n, k, err := readLen(w.src, j)
		if err != nil {
			return 0, err
		}
		w.copyTo(j, k+n)
		var buf [4]*fields.Node
		next := buf[:0]
		if len(nodes) > 0 || !w.emit {
			name := string(w.src[k : k+n])
			shown := fields.Segment{Kind: fields.AnyMember}
			for _, nd := range nodes {
				next = nd.Member(next, name)
				if nd.Names(name) {
					shown = fields.Segment{Kind: fields.Member, Name: name}
				}
			}
			w.push(fields.Segment{Kind: fields.Member, Name: name}, shown)
		} else {
			w.push(fields.Segment{}, fields.Segment{})
		}
		j, err = w.walk(t.Values(), k+n, depth+1, next)
		w.pop()
		return j, err
	})
}

// blocks is skipBlocks that, in the second pass, writes each block
// header, with a new byte size when the block's items changed length. The
// first pass has already checked every count and size.
func (w *walker) blocks(i int, empty bool, item func(int) (int, error)) (int, error) {
	if !w.emit {
		return skipBlocks(w.src, i, empty, item)
	}
	for {
		count, j, err := readLong(w.src, i, 10)
		if err != nil {
			return 0, err
		}
		if count >= 0 {
			// A positive count has no byte size to fix: copy the header.
			w.copyTo(i, j)
			if count == 0 {
				return j, nil
			}
			for i = j; count > 0; count-- {
				if i, err = item(i); err != nil {
					return 0, err
				}
			}
			continue
		}
		header, sizeAt := i, j
		if _, i, err = readLong(w.src, sizeAt, 10); err != nil {
			return 0, err
		}
		itemsStart, mark := i, len(w.out)
		for count = -count; count > 0; count-- {
			if i, err = item(i); err != nil {
				return 0, err
			}
		}
		w.fixSize(header, sizeAt, itemsStart, i, mark)
	}
}

// fixSize puts the header of a block with a negative count before the
// items already written at out[mark:]. It copies the original header when
// the items kept their length, so untouched blocks keep their bytes.
func (w *walker) fixSize(header, sizeAt, itemsStart, itemsEnd, mark int) {
	items := append([]byte(nil), w.out[mark:]...)
	w.out = w.out[:mark]
	if len(items) == itemsEnd-itemsStart {
		w.out = append(w.out, w.src[header:itemsStart]...)
	} else {
		w.out = append(w.out, w.src[header:sizeAt]...)
		w.out = binary.AppendUvarint(w.out, uint64(len(items))<<1)
	}
	w.out = append(w.out, items...)
}

func (w *walker) record(r *avro.RecordSchema, i, depth int, nodes []*fields.Node) (int, error) {
	for k, f := range r.Fields() {
		var buf [4]*fields.Node
		next := buf[:0]
		for _, n := range nodes {
			next = n.Member(next, f.Name())
		}
		seg := fields.Segment{Kind: fields.Member, Name: f.Name()}
		w.push(seg, seg)
		var err error
		if w.marks.has(r, k) {
			i, err = w.marked(r, k, f, i, depth, next)
		} else {
			i, err = w.walk(f.Type(), i, depth+1, next)
		}
		if err != nil {
			return 0, err
		}
		w.pop()
	}
	return i, nil
}

// push adds a step to the current path: seg as bound, shown as errors
// print it.
func (w *walker) push(seg, shown fields.Segment) {
	if seg != shown {
		w.hidden++
	}
	w.path = append(w.path, seg)
	w.shown = append(w.shown, shown)
}

func (w *walker) pop() {
	last := len(w.path) - 1
	if w.path[last] != w.shown[last] {
		w.hidden--
	}
	w.path, w.shown = w.path[:last], w.shown[:last]
}

func (w *walker) marked(r *avro.RecordSchema, k int, f *avro.Field, i, depth int, next []*fields.Node) (int, error) {
	end, err := skip(w.src, f.Type(), i, depth+1)
	if err != nil {
		return 0, err
	}
	if !w.emit {
		if rule := fields.Selected(next); rule >= 0 {
			w.hits[rule]++
		}
		path := fields.FormatSegments(w.path)
		shown := path
		if w.hidden > 0 {
			shown = fields.FormatSegments(w.shown)
		}
		w.spans = append(w.spans, span{start: i, end: end, path: path, shown: shown, record: r.FullName(), index: k})
		return end, nil
	}
	b, err := w.replace(w.next, w.src[i:end])
	if err != nil {
		return 0, err
	}
	w.next++
	w.out = append(w.out, b...)
	return end, nil
}
