package protofields_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/fields/protofields"
)

// patientDescriptor builds, without protoc, the equivalent of:
//
//	message HumanName { string family = 1; repeated string given = 2; }
//	message Address { string line = 1; string city = 2; }
//	message Patient {
//	  string id = 1; repeated HumanName name = 2; string birth_date = 3;
//	  Address address = 4; int64 mrn = 5; bool active = 6;
//	  map<string, string> tags = 7; double score = 8;
//	}
func patientDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	f := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, typeName string) *descriptorpb.FieldDescriptorProto {
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(name)}
		if typeName != "" {
			fd.TypeName = proto.String(typeName)
		}
		return fd
	}
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	file := &descriptorpb.FileDescriptorProto{
		Name: proto.String("patient.proto"), Package: proto.String("test"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("HumanName"), Field: []*descriptorpb.FieldDescriptorProto{
				f("family", 1, str, opt, ""), f("given", 2, str, rep, "")}},
			{Name: proto.String("Address"), Field: []*descriptorpb.FieldDescriptorProto{
				f("line", 1, str, opt, ""), f("city", 2, str, opt, "")}},
			{Name: proto.String("Patient"), Field: []*descriptorpb.FieldDescriptorProto{
				f("id", 1, str, opt, ""), f("name", 2, msg, rep, ".test.HumanName"), f("birth_date", 3, str, opt, ""),
				f("address", 4, msg, opt, ".test.Address"), f("mrn", 5, descriptorpb.FieldDescriptorProto_TYPE_INT64, opt, ""),
				f("active", 6, descriptorpb.FieldDescriptorProto_TYPE_BOOL, opt, ""), f("tags", 7, msg, rep, ".test.Patient.TagsEntry"),
				f("score", 8, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, opt, "")},
				NestedType: []*descriptorpb.DescriptorProto{{Name: proto.String("TagsEntry"),
					Field:   []*descriptorpb.FieldDescriptorProto{f("key", 1, str, opt, ""), f("value", 2, str, opt, "")},
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}}}},
		},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("Patient")
}

func newPatient(md protoreflect.MessageDescriptor) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	fs := md.Fields()
	m.Set(fs.ByName("id"), protoreflect.ValueOfString("p1"))
	names := m.Mutable(fs.ByName("name")).List()
	for _, given := range [][]string{{"Jane", "Q"}, {"J"}} {
		n := names.NewElement().Message()
		n.Set(n.Descriptor().Fields().ByName("family"), protoreflect.ValueOfString("Doe"))
		g := n.Mutable(n.Descriptor().Fields().ByName("given")).List()
		for _, s := range given {
			g.Append(protoreflect.ValueOfString(s))
		}
		names.Append(protoreflect.ValueOfMessage(n))
	}
	m.Set(fs.ByName("birth_date"), protoreflect.ValueOfString("1970-01-02"))
	addr := m.Mutable(fs.ByName("address")).Message()
	addr.Set(addr.Descriptor().Fields().ByName("line"), protoreflect.ValueOfString("1 Main St"))
	addr.Set(addr.Descriptor().Fields().ByName("city"), protoreflect.ValueOfString("Springfield"))
	m.Set(fs.ByName("mrn"), protoreflect.ValueOfInt64(987654))
	m.Set(fs.ByName("active"), protoreflect.ValueOfBool(true))
	m.Mutable(fs.ByName("tags")).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString("v"))
	m.Set(fs.ByName("score"), protoreflect.ValueOfFloat64(0.5))
	return m
}

func newCipher() *fields.RecordCipher {
	d := envelope.Descriptor{Algorithm: envelope.AES256GCM, Scope: envelope.ScopeStream, Payload: envelope.PayloadProtobuf,
		KEKName: "k", KEKVersion: 1, KeyRef: []byte{1}}
	desc, _ := d.Marshal()
	return &fields.RecordCipher{DEK: envelope.NewDEK(), Descriptor: desc, Topic: "t"}
}

func newCodec(t *testing.T, md protoreflect.MessageDescriptor, paths ...string) *protofields.Codec {
	t.Helper()
	sel, err := fields.NewSelection(paths)
	if err != nil {
		t.Fatal(err)
	}
	c, err := protofields.New(md, sel)
	if err != nil {
		t.Fatalf("New(%q) err = %v", paths, err)
	}
	return c
}

func reserveInto(c fields.Sealer, n *int) fields.ReserveFunc {
	return func(count, _ int) (fields.Sealer, error) { *n = count; return c, nil }
}

func TestProtoRoundTrip(t *testing.T) {
	md := patientDescriptor(t)
	codec := newCodec(t, md, "name[*].given", "birth_date", "address.line", "mrn", "active")
	orig := newPatient(md)
	// An unknown field the schema does not declare must survive.
	orig.SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "extra"))
	src, err := proto.MarshalOptions{Deterministic: true}.Marshal(orig)
	if err != nil {
		t.Fatal(err)
	}
	c := newCipher()
	var n int
	enc, err := codec.Encrypt(src, reserveInto(c, &n))
	if err != nil {
		t.Fatalf("Encrypt() err = %v", err)
	}
	if n != 6 {
		t.Errorf("sealed %d fields, want 6 (two given lists, birth_date, address.line, mrn, active)", n)
	}
	for _, secret := range []string{"Jane", "1970", "1 Main"} {
		if bytes.Contains(enc, []byte(secret)) {
			t.Errorf("encrypted record contains %q", secret)
		}
	}
	stored := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(enc, stored); err != nil {
		t.Fatalf("Unmarshal(encrypted) err = %v", err)
	}
	fs := md.Fields()
	if stored.Get(fs.ByName("id")).String() != "p1" || stored.Has(fs.ByName("birth_date")) || stored.Has(fs.ByName("mrn")) {
		t.Errorf("encrypted record: id %q, birth_date present %v, mrn present %v; want p1, false, false",
			stored.Get(fs.ByName("id")).String(), stored.Has(fs.ByName("birth_date")), stored.Has(fs.ByName("mrn")))
	}
	city := stored.Get(fs.ByName("address")).Message()
	if city.Get(city.Descriptor().Fields().ByName("city")).String() != "Springfield" {
		t.Error("address.city is not readable in the encrypted record")
	}

	dec, err := codec.Decrypt(enc, c)
	if err != nil {
		t.Fatalf("Decrypt() err = %v", err)
	}
	got := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(dec, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, orig) {
		t.Errorf("Decrypt() = %v, want %v", got, orig)
	}
	if !bytes.Contains(dec, []byte("extra")) {
		t.Error("unknown field lost")
	}
}

func TestProtoBinding(t *testing.T) {
	md := patientDescriptor(t)
	codec := newCodec(t, md, "name[*].family")
	src, _ := proto.Marshal(newPatient(md))
	c := newCipher()
	var n int
	enc, err := codec.Encrypt(src, reserveInto(c, &n))
	if err != nil {
		t.Fatal(err)
	}
	// Move the sealed entries of name[0] and name[1] into each other.
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(enc, m); err != nil {
		t.Fatal(err)
	}
	names := m.Get(md.Fields().ByName("name")).List()
	u0, u1 := names.Get(0).Message().GetUnknown(), names.Get(1).Message().GetUnknown()
	names.Get(0).Message().SetUnknown(u1)
	names.Get(1).Message().SetUnknown(u0)
	swapped, _ := proto.Marshal(m)
	_, err = codec.Decrypt(swapped, c)
	if !errors.Is(err, envelope.ErrBindingMismatch) || !strings.Contains(err.Error(), `"name[0].family"`) {
		t.Errorf("Decrypt(swapped) err = %v, want ErrBindingMismatch on name[0].family", err)
	}
}

func TestProtoMissingAndClear(t *testing.T) {
	md := patientDescriptor(t)
	codec := newCodec(t, md, "birth_date")
	empty, _ := proto.Marshal(dynamicpb.NewMessage(md))
	var n int
	if _, err := codec.Encrypt(empty, reserveInto(newCipher(), &n)); !errors.Is(err, fields.ErrMissingField) {
		t.Errorf("Encrypt(no birth_date) err = %v, want ErrMissingField", err)
	}
	clearRec, _ := proto.Marshal(newPatient(md))
	if _, err := codec.Decrypt(clearRec, newCipher()); !errors.Is(err, fields.ErrNotEncrypted) {
		t.Errorf("Decrypt(clear birth_date) err = %v, want ErrNotEncrypted", err)
	}
}

func TestProtoInvalid(t *testing.T) {
	md := patientDescriptor(t)
	codec := newCodec(t, md, "birth_date")
	var n int
	bad := []byte{0x0a, 0x05, 'a'} // field 1, length 5, one byte
	if _, err := codec.Encrypt(bad, reserveInto(newCipher(), &n)); !errors.Is(err, fields.ErrInvalidRecord) {
		t.Errorf("Encrypt(truncated) err = %v, want ErrInvalidRecord", err)
	}
	if _, err := codec.Decrypt(bad, newCipher()); !errors.Is(err, fields.ErrInvalidRecord) {
		t.Errorf("Decrypt(truncated) err = %v, want ErrInvalidRecord", err)
	}
	// A sealed entry that is not an entry.
	junk := protowire.AppendBytes(protowire.AppendTag(nil, protofields.DefaultSealedField, protowire.BytesType), []byte{0xff})
	if _, err := codec.Decrypt(junk, newCipher()); !errors.Is(err, fields.ErrInvalidRecord) {
		t.Errorf("Decrypt(junk entry) err = %v, want ErrInvalidRecord", err)
	}
}

func TestProtoConfigErrors(t *testing.T) {
	md := patientDescriptor(t)
	for _, path := range []string{"nosuch", "name.family", "name[*]", "tags.k", "id.x", "*"} {
		sel, err := fields.NewSelection([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := protofields.New(md, sel); !errors.Is(err, fields.ErrConfig) {
			t.Errorf("New(%q) err = %v, want ErrConfig", path, err)
		}
	}
	sel, _ := fields.NewSelection([]string{"id"})
	if _, err := protofields.New(md, sel, protofields.SealedField(2)); !errors.Is(err, fields.ErrConfig) {
		t.Errorf("New(SealedField(2)) err = %v, want ErrConfig (HumanName declares 2)", err)
	}
	if _, err := protofields.New(md, sel, protofields.SealedField(19000)); !errors.Is(err, fields.ErrConfig) {
		t.Errorf("New(SealedField(19000)) err = %v, want ErrConfig", err)
	}
}
