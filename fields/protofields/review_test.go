package protofields_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/fields/protofields"
)

// topLevelEntries returns each top-level field of src that carries a sealed
// entry, as raw tag and value bytes.
func topLevelEntries(t *testing.T, src []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for b := src; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatal("bad wire data")
		}
		size := protowire.ConsumeFieldValue(num, typ, b[n:])
		if size < 0 {
			t.Fatal("bad wire data")
		}
		if num == protofields.DefaultSealedField {
			out = append(out, b[:n+size])
		}
		b = b[n+size:]
	}
	return out
}

// encryptPatient returns the encrypted test patient with paths sealed,
// and the cipher.
func encryptPatient(t *testing.T, md protoreflect.MessageDescriptor, codec *protofields.Codec) ([]byte, *fields.RecordCipher) {
	t.Helper()
	src, err := proto.MarshalOptions{Deterministic: true}.Marshal(newPatient(md))
	if err != nil {
		t.Fatal(err)
	}
	c := newCipher()
	var n int
	enc, err := codec.Encrypt(src, reserveInto(c, &n))
	if err != nil {
		t.Fatal(err)
	}
	return enc, c
}

// A second copy of the sealed entry of a repeated field would double the
// list when merged, so Decrypt rejects it and names the field.
func TestProtoDuplicatedEntry(t *testing.T) {
	md := patientDescriptor(t)
	codec := newCodec(t, md, "name")
	enc, c := encryptPatient(t, md, codec)
	entries := topLevelEntries(t, enc)
	if len(entries) != 1 {
		t.Fatalf("found %d sealed entries, want 1", len(entries))
	}
	doubled := append(append([]byte(nil), enc...), entries[0]...)
	_, err := codec.Decrypt(doubled, c)
	var fe *fields.FieldError
	if !errors.As(err, &fe) || fe.Path != "name" {
		t.Fatalf("Decrypt(record with a duplicated sealed entry) err = %v, want a *FieldError on name", err)
	}
	if !strings.Contains(err.Error(), "more than once") {
		t.Errorf("Decrypt() err = %v, want it to say the field is sealed more than once", err)
	}
}

// p2Descriptor returns a proto2 message R { required string ssn = 1;
// optional string x = 2; }.
func p2Descriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	req := descriptorpb.FieldDescriptorProto_LABEL_REQUIRED
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	file := &descriptorpb.FileDescriptorProto{
		Name: proto.String("p2.proto"), Package: proto.String("p2"), Syntax: proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("R"), Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("ssn"), Number: proto.Int32(1), Type: str.Enum(), Label: req.Enum()},
			{Name: proto.String("x"), Number: proto.Int32(2), Type: str.Enum(), Label: opt.Enum()},
		}}},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("R")
}

// Encryption removes a selected field from its message, so a proto2
// required field is rejected at configuration.
func TestProtoRequiredField(t *testing.T) {
	md := p2Descriptor(t)
	sel, err := fields.NewSelection([]string{"ssn"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = protofields.New(md, sel)
	if !errors.Is(err, fields.ErrConfig) || !strings.Contains(err.Error(), "required") {
		t.Errorf("New(required field selected) err = %v, want ErrConfig naming the required field", err)
	}

	// The optional field of the same message still works.
	codec := newCodec(t, md, "x")
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("ssn"), protoreflect.ValueOfString("123-45-6789"))
	m.Set(md.Fields().ByName("x"), protoreflect.ValueOfString("secret"))
	src, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c := newCipher()
	var n int
	enc, err := codec.Encrypt(src, reserveInto(c, &n))
	if err != nil {
		t.Fatalf("Encrypt(optional field of a proto2 message) err = %v", err)
	}
	if _, err := codec.Decrypt(enc, c); err != nil {
		t.Fatalf("Decrypt() err = %v", err)
	}
}

// A oneof member selected for encryption keeps the choice, even when set
// to its zero value.
func TestProtoOneof(t *testing.T) {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	file := &descriptorpb.FileDescriptorProto{
		Name: proto.String("o.proto"), Package: proto.String("o"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("R"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("ssn"), Number: proto.Int32(1), Type: str.Enum(), Label: opt.Enum(), OneofIndex: proto.Int32(0)},
				{Name: proto.String("mrn"), Number: proto.Int32(2), Type: str.Enum(), Label: opt.Enum(), OneofIndex: proto.Int32(0)},
			},
			OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("id")}}}},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().ByName("R")
	codec := newCodec(t, md, "ssn")
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("ssn"), protoreflect.ValueOfString(""))
	src, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c := newCipher()
	var n int
	enc, err := codec.Encrypt(src, reserveInto(c, &n))
	if err != nil {
		t.Fatalf("Encrypt(oneof member set to empty string) err = %v", err)
	}
	dec, err := codec.Decrypt(enc, c)
	if err != nil {
		t.Fatalf("Decrypt() err = %v", err)
	}
	got := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(dec, got); err != nil {
		t.Fatal(err)
	}
	if !got.Has(md.Fields().ByName("ssn")) {
		t.Errorf("Decrypt() lost the oneof choice ssn")
	}
}

func TestProtoContainsSealed(t *testing.T) {
	md := patientDescriptor(t)
	src, err := proto.MarshalOptions{Deterministic: true}.Marshal(newPatient(md))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		paths []string
	}{
		{"top level", []string{"birth_date"}},
		{"nested", []string{"address.line"}},
		{"in list elements", []string{"name[*].family"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codec := newCodec(t, md, tc.paths...)
			enc, _ := encryptPatient(t, md, codec)
			if !codec.ContainsSealed(enc) {
				t.Error("ContainsSealed(encrypted record) = false, want true")
			}
			if codec.ContainsSealed(src) {
				t.Error("ContainsSealed(plain record) = true, want false")
			}
		})
	}
}
