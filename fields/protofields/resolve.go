package protofields

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kenvelope/kenvelope/fields"
)

func configErr(format string, args ...any) error {
	return fmt.Errorf("protofields: "+format+": %w", append(args, fields.ErrConfig)...)
}

// resolve checks that segs name a field reachable from md: names select
// fields by their proto name, [n] and [*] enter a repeated message field,
// and the path ends at a field of any type.
func resolve(md protoreflect.MessageDescriptor, segs []fields.Segment, path string) error {
	seg := segs[0]
	if seg.Kind != fields.Member {
		return configErr("path %q: message %s is entered by field name", path, md.FullName())
	}
	fd := md.Fields().ByName(protoreflect.Name(seg.Name))
	if fd == nil {
		return configErr("path %q: message %s has no field %q", path, md.FullName(), seg.Name)
	}
	rest := segs[1:]
	if len(rest) == 0 {
		return checkSelectable(fd, path)
	}
	if fd.Message() == nil || fd.IsMap() {
		return configErr("path %q: field %s is not a message or repeated message field, so the path cannot go on", path, fd.FullName())
	}
	if fd.IsList() {
		if rest[0].Kind != fields.Index && rest[0].Kind != fields.AnyIndex {
			return configErr("path %q: repeated field %s is entered with [n] or [*]", path, fd.FullName())
		}
		rest = rest[1:]
		if len(rest) == 0 {
			return configErr("path %q ends at an element of %s; select the field, or a field inside the element", path, fd.FullName())
		}
	}
	return resolve(fd.Message(), rest, path)
}

// checkSelectable rejects a proto2 required field as the end of a path.
// Encryption removes the field from its message, so the stored record
// would lack a required field and fail to parse in any reader that checks
// required fields, this package's Decrypt included.
func checkSelectable(fd protoreflect.FieldDescriptor, path string) error {
	if fd.Cardinality() == protoreflect.Required {
		return configErr("path %q: field %s is a proto2 required field, which encryption would remove from its message; make it optional to encrypt it", path, fd.FullName())
	}
	return nil
}

// checkNumber rejects a sealed-field number that a message reachable from
// md declares, since sealed entries must travel as unknown fields.
func checkNumber(md protoreflect.MessageDescriptor, n protoreflect.FieldNumber, seen map[protoreflect.FullName]bool) error {
	if seen[md.FullName()] {
		return nil
	}
	seen[md.FullName()] = true
	if md.Fields().ByNumber(n) != nil {
		return configErr("message %s declares field number %d, which carries sealed fields; choose another with SealedField", md.FullName(), n)
	}
	for i := 0; i < md.Fields().Len(); i++ {
		if m := md.Fields().Get(i).Message(); m != nil {
			if err := checkNumber(m, n, seen); err != nil {
				return err
			}
		}
	}
	return nil
}
