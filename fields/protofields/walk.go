package protofields

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kenvelope/kenvelope/fields"
)

// Field numbers inside a sealed entry.
const (
	entryNumber protowire.Number = 1 // varint: number of the sealed field
	entrySealed protowire.Number = 2 // bytes: the sealed wire encoding
)

// maxDepth bounds message nesting, against recursive types.
const maxDepth = 100

// found is a selected field of one message, with its wire encoding.
type found struct {
	msg   protoreflect.Message
	fd    protoreflect.FieldDescriptor
	path  string
	plain []byte
}

type walker struct {
	hits  []int
	path  []fields.Segment
	found []found

	number protowire.Number
	open   fields.Opener
	depth  int
}

type populated struct {
	fd protoreflect.FieldDescriptor
	v  protoreflect.Value
}

func populatedFields(m protoreflect.Message) []populated {
	var out []populated
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		out = append(out, populated{fd, v})
		return true
	})
	return out
}

// children calls visit for each message value of fd in v, with the path
// segment and tree nodes it moves to. Map fields are not entered.
func (w *walker) children(fd protoreflect.FieldDescriptor, v protoreflect.Value, next []*fields.Node,
	visit func(protoreflect.Message, []*fields.Node) error) error {
	if fd.Message() == nil || fd.IsMap() {
		return nil
	}
	if !fd.IsList() {
		return visit(v.Message(), next)
	}
	list := v.List()
	for k := 0; k < list.Len(); k++ {
		var buf [4]*fields.Node
		elem := buf[:0]
		for _, n := range next {
			elem = n.Element(elem, k)
		}
		w.path = append(w.path, fields.Segment{Kind: fields.Index, Index: k})
		err := visit(list.Get(k).Message(), elem)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

func member(nodes []*fields.Node, name protoreflect.Name) []*fields.Node {
	var next []*fields.Node
	for _, n := range nodes {
		next = n.Member(next, string(name))
	}
	return next
}

// collect finds the selected fields present in m and below.
func (w *walker) collect(m protoreflect.Message, nodes []*fields.Node) error {
	if len(nodes) == 0 {
		return nil
	}
	for _, p := range populatedFields(m) {
		next := member(nodes, p.fd.Name())
		w.path = append(w.path, fields.Segment{Kind: fields.Member, Name: string(p.fd.Name())})
		var err error
		if rule := fields.Selected(next); rule >= 0 {
			w.hits[rule]++
			err = w.add(m, p.fd)
		} else {
			err = w.children(p.fd, p.v, next, w.collect)
		}
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

// add records field fd of m with its wire encoding alone.
func (w *walker) add(m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
	one := m.New()
	one.Set(fd, m.Get(fd))
	// one contains a single field, so in a proto2 message with required
	// fields it is partial on purpose. The record as a whole was checked
	// for required fields when it was parsed.
	plain, err := proto.MarshalOptions{Deterministic: true, AllowPartial: true}.Marshal(one.Interface())
	if err != nil {
		return &fields.FieldError{Path: fields.FormatSegments(w.path), Err: err}
	}
	w.found = append(w.found, found{msg: m, fd: fd, path: fields.FormatSegments(w.path), plain: plain})
	return nil
}

// restore opens the sealed entries of m and the messages below it.
func (w *walker) restore(m protoreflect.Message, nodes []*fields.Node) error {
	if w.depth++; w.depth > maxDepth {
		return &fields.InvalidRecordError{Format: "Protobuf", Offset: -1, Reason: "messages nested too deep"}
	}
	defer func() { w.depth-- }()
	for _, p := range populatedFields(m) {
		next := member(nodes, p.fd.Name())
		w.path = append(w.path, fields.Segment{Kind: fields.Member, Name: string(p.fd.Name())})
		var err error
		if fields.Selected(next) >= 0 {
			err = &fields.FieldError{Path: fields.FormatSegments(w.path), Err: fields.ErrNotEncrypted}
		} else {
			err = w.children(p.fd, p.v, next, w.restore)
		}
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
	return w.openEntries(m, nodes)
}

// openEntries opens the sealed entries among m's unknown fields, merges
// each field back into m, and keeps every other unknown field.
func (w *walker) openEntries(m protoreflect.Message, nodes []*fields.Node) error {
	unknown := m.GetUnknown()
	var keep, plains []byte
	var fds []protoreflect.FieldDescriptor
	fail := func(err error) error {
		clear(plains)
		return err
	}
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			return w.invalid(protowire.ParseError(n))
		}
		size := protowire.ConsumeFieldValue(num, typ, unknown[n:])
		if size < 0 {
			return w.invalid(protowire.ParseError(size))
		}
		field := unknown[:n+size]
		unknown = unknown[n+size:]
		if num != w.number || typ != protowire.BytesType {
			keep = append(keep, field...)
			continue
		}
		fd, plain, err := w.openEntry(m, field[n:], nodes)
		if err != nil {
			return fail(err)
		}
		if slices.Contains(fds, fd) {
			// A second entry would be merged into the first, doubling a
			// repeated field or replacing a scalar.
			clear(plain)
			return fail(w.fieldErr(fd, errors.New("sealed more than once in one message")))
		}
		fds = append(fds, fd)
		plains = append(plains, plain...)
	}
	if len(fds) == 0 {
		return nil
	}
	m.SetUnknown(keep)
	err := proto.UnmarshalOptions{Merge: true}.Unmarshal(plains, m.Interface())
	clear(plains)
	if err != nil {
		return w.invalid(fmt.Errorf("opened fields do not parse: %w", err))
	}
	return nil
}

// openEntry opens one sealed entry of m, whose bytes field value is raw.
func (w *walker) openEntry(m protoreflect.Message, raw []byte, nodes []*fields.Node) (protoreflect.FieldDescriptor, []byte, error) {
	entry, n := protowire.ConsumeBytes(raw)
	if n < 0 {
		return nil, nil, w.invalid(protowire.ParseError(n))
	}
	number, sealed, err := parseEntry(entry)
	if err != nil {
		return nil, nil, w.invalid(err)
	}
	fd := m.Descriptor().Fields().ByNumber(number)
	if fd == nil {
		return nil, nil, w.invalid(fmt.Errorf("sealed field number %d is not a field of %s", number, m.Descriptor().FullName()))
	}
	w.path = append(w.path, fields.Segment{Kind: fields.Member, Name: string(fd.Name())})
	defer func() { w.path = w.path[:len(w.path)-1] }()
	path := fields.FormatSegments(w.path)
	if m.Has(fd) {
		return nil, nil, &fields.FieldError{Path: path, Err: errors.New("field is present both in clear and sealed")}
	}
	if rule := fields.Selected(member(nodes, fd.Name())); rule >= 0 {
		w.hits[rule]++
	}
	plain, err := w.open.Open(nil, sealed, path)
	if err != nil {
		return nil, nil, &fields.FieldError{Path: path, Err: err}
	}
	if !onlyField(plain, number) {
		clear(plain)
		return nil, nil, &fields.FieldError{Path: path, Err: errors.New("opened value holds other fields than the sealed one")}
	}
	return fd, plain, nil
}

// fieldErr returns a *fields.FieldError for field fd of the message at
// the current path.
func (w *walker) fieldErr(fd protoreflect.FieldDescriptor, err error) error {
	path := append(slices.Clip(w.path), fields.Segment{Kind: fields.Member, Name: string(fd.Name())})
	return &fields.FieldError{Path: fields.FormatSegments(path), Err: err}
}

func (w *walker) invalid(err error) error {
	return &fields.InvalidRecordError{Format: "Protobuf", Offset: -1,
		Reason: fmt.Sprintf("sealed entry in %q: %v", fields.FormatSegments(w.path), err)}
}

// parseEntry decodes a sealed entry: the field number and the sealed bytes.
func parseEntry(b []byte) (protoreflect.FieldNumber, []byte, error) {
	var number uint64
	var sealed []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == entryNumber && typ == protowire.VarintType:
			number, n = protowire.ConsumeVarint(b)
		case num == entrySealed && typ == protowire.BytesType:
			sealed, n = protowire.ConsumeBytes(b)
		default:
			return 0, nil, fmt.Errorf("unexpected field %d in a sealed entry", num)
		}
		if n < 0 {
			return 0, nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	if number == 0 || number > uint64(protowire.MaxValidNumber) || sealed == nil {
		return 0, nil, errors.New("sealed entry lacks its field number or sealed bytes")
	}
	return protoreflect.FieldNumber(number), sealed, nil
}

// onlyField reports whether the wire encoding b holds only field number.
func onlyField(b []byte, number protoreflect.FieldNumber) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != number {
			return false
		}
		size := protowire.ConsumeFieldValue(num, typ, b[n:])
		if size < 0 {
			return false
		}
		b = b[n+size:]
	}
	return true
}

// hasEntry reports whether m or a message below it has an unknown field
// with number n and wire type bytes.
func hasEntry(m protoreflect.Message, n protowire.Number, depth int) bool {
	if depth > maxDepth {
		return true // too deep to tell, and too deep for Decrypt: fail closed
	}
	for b := m.GetUnknown(); len(b) > 0; {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return false
		}
		if num == n && typ == protowire.BytesType {
			return true
		}
		size := protowire.ConsumeFieldValue(num, typ, b[k:])
		if size < 0 {
			return false
		}
		b = b[k+size:]
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			for i := 0; i < v.List().Len() && !found; i++ {
				found = hasEntry(v.List().Get(i).Message(), n, depth+1)
			}
		default:
			found = hasEntry(v.Message(), n, depth+1)
		}
		return !found
	})
	return found
}
