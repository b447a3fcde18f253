package protofields

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
)

// DefaultSealedField is the field number that carries sealed fields by
// default: 536870911 (2^29-1), the largest valid field number, which
// schemas rarely use.
const DefaultSealedField protoreflect.FieldNumber = protowire.MaxValidNumber

// Codec is the fields.Codec for Protobuf records of one message type. It
// is safe for concurrent use.
type Codec struct {
	md     protoreflect.MessageDescriptor
	sel    *fields.Selection
	number protoreflect.FieldNumber
}

// Opt configures New.
type Opt interface{ apply(*Codec) }

type optFunc func(*Codec)

func (f optFunc) apply(c *Codec) { f(c) }

// SealedField sets the field number that carries sealed fields, which no
// message reachable from the record type may declare. Producer and
// consumer must use the same number. Default DefaultSealedField.
func SealedField(n protoreflect.FieldNumber) Opt {
	return optFunc(func(c *Codec) { c.number = n })
}

// New returns a Codec for records of message type md that encrypts the
// fields sel selects.
func New(md protoreflect.MessageDescriptor, sel *fields.Selection, opts ...Opt) (*Codec, error) {
	if md == nil || sel == nil {
		return nil, configErr("New needs a message descriptor and a Selection")
	}
	c := &Codec{md: md, sel: sel, number: DefaultSealedField}
	for _, o := range opts {
		o.apply(c)
	}
	if !c.number.IsValid() || (c.number >= protowire.FirstReservedNumber && c.number <= protowire.LastReservedNumber) {
		return nil, configErr("sealed field number %d is not a valid, unreserved field number", c.number)
	}
	for i := 0; i < sel.Len(); i++ {
		if err := resolve(md, sel.Path(i).Segments(), sel.Path(i).String()); err != nil {
			return nil, err
		}
	}
	if err := checkNumber(md, c.number, map[protoreflect.FullName]bool{}); err != nil {
		return nil, err
	}
	return c, nil
}

// Payload returns envelope.PayloadProtobuf.
func (c *Codec) Payload() envelope.Payload { return envelope.PayloadProtobuf }

func (c *Codec) parse(src []byte) (*dynamicpb.Message, error) {
	m := dynamicpb.NewMessage(c.md)
	if err := (proto.UnmarshalOptions{}).Unmarshal(src, m); err != nil {
		return nil, &fields.InvalidRecordError{Format: "Protobuf", Offset: -1, Reason: fmt.Sprintf("does not parse as %s: %v", c.md.FullName(), err)}
	}
	return m, nil
}

// marshal encodes m deterministically, so equal records encode alike.
func marshal(m protoreflect.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m.Interface())
}

// Encrypt removes each selected field from its message and adds, as an
// unknown field with the sealed-field number, an entry holding the field
// number and the sealed wire encoding of the field.
func (c *Codec) Encrypt(src []byte, reserve fields.ReserveFunc) ([]byte, error) {
	m, err := c.parse(src)
	if err != nil {
		return nil, err
	}
	w := walker{hits: make([]int, c.sel.Len())}
	if err := w.collect(m, []*fields.Node{c.sel.Root()}); err != nil {
		return nil, err
	}
	if err := c.sel.CheckHits(w.hits); err != nil {
		return nil, err
	}
	size := 0
	for _, s := range w.found {
		size += len(s.plain)
	}
	sealer, err := reserve(len(w.found), size)
	if err != nil {
		return nil, err
	}
	for _, s := range w.found {
		entry := protowire.AppendTag(nil, entryNumber, protowire.VarintType)
		entry = protowire.AppendVarint(entry, uint64(s.fd.Number()))
		entry = protowire.AppendTag(entry, entrySealed, protowire.BytesType)
		entry = protowire.AppendBytes(entry, sealer.Seal(nil, s.plain, s.path))
		clear(s.plain)

		s.msg.Clear(s.fd)
		unknown := protowire.AppendTag(s.msg.GetUnknown(), c.number, protowire.BytesType)
		s.msg.SetUnknown(protowire.AppendBytes(unknown, entry))
	}
	return marshal(m)
}

// Decrypt opens every sealed entry, in every message of the record that
// is reached through message fields and repeated message fields, and
// merges the field back into its message.
func (c *Codec) Decrypt(src []byte, open fields.Opener) ([]byte, error) {
	m, err := c.parse(src)
	if err != nil {
		return nil, err
	}
	w := walker{hits: make([]int, c.sel.Len()), number: c.number, open: open}
	if err := w.restore(m, []*fields.Node{c.sel.Root()}); err != nil {
		return nil, err
	}
	if err := c.sel.CheckHits(w.hits); err != nil {
		return nil, err
	}
	return marshal(m)
}

// ContainsSealed reports whether src parses as the codec's message type
// and a message in it, reached through message fields and repeated
// message fields, has an unknown field with the sealed-field number.
func (c *Codec) ContainsSealed(src []byte) bool {
	m, err := c.parse(src)
	if err != nil {
		return false
	}
	return hasEntry(m, c.number, 0)
}
