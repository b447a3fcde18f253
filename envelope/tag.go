package envelope

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"sync"
)

// TagHeaderName is the name of the record header that carries a record's
// integrity tag. Package kafka writes it on every record with sealed
// fields or sealed header values.
const TagHeaderName = "kenvelope-tag"

// TagSize is the length of a tag: a 4-byte binding check, a 12-byte nonce
// and a 16-byte GCM authentication tag.
const TagSize = checkSize + nonceSize + tagSize

// tagDomain starts the associated data of a tag, ahead of the associated
// data that Seal builds. Its first byte differs from domain's, so the
// associated data of a tag never equals that of a sealed value, and a tag
// cannot pass for a sealed empty value or the other way round.
const tagDomain = "kenvelope/v1 tag\x00"

// maxPooledTag bounds the buffers that tagPool keeps, so that one large
// record does not pin a large buffer for the life of the process.
const maxPooledTag = 64 << 10

// tagPool recycles the buffers that hold a tag's associated data, which
// includes the whole record value.
var tagPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendTagAD appends the associated data of a tag to dst and returns it
// with the binding check. Each part is written with a presence byte and
// its length, so a nil part, an empty part and a different split of the
// same bytes all give different associated data.
func appendTagAD(dst, descriptor []byte, b Binding, parts [][]byte) ([]byte, uint32) {
	dst = append(dst, tagDomain...)
	dst, check := appendAD(dst, descriptor, b)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(parts)))
	for _, p := range parts {
		if p == nil {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
		dst = append(dst, p...)
	}
	return dst, check
}

// Tag appends to dst an integrity tag over parts, bound to descriptor and
// b like a sealed value, and returns the result. The tag is the AES-GCM
// seal of an empty plaintext under a fresh random nonce, with parts in
// the associated data, so it costs one nonce of k, like one Seal. Package
// kafka tags the stored value and sealed header values of a record with
// sealed fields, so that an edit to a clear field, a deleted sealed field
// or a sealed field pasted in from another record fails CheckTag.
func (k *DEK) Tag(dst, descriptor []byte, b Binding, parts ...[]byte) []byte {
	bufp := tagPool.Get().(*[]byte)
	ad, check := appendTagAD((*bufp)[:0], descriptor, b, parts)
	dst = binary.BigEndian.AppendUint32(dst, check)
	dst = k.aead.Seal(dst, nil, nil, ad)
	putTagBuffer(bufp, ad)
	return dst
}

// CheckTag verifies a tag that Tag returned for the same descriptor,
// binding and parts. It returns ErrBindingMismatch when the tag was made
// for another topic or record key, and ErrAuth when the tag, the
// descriptor or any part was altered, or the tag has the wrong length.
func (k *DEK) CheckTag(tag, descriptor []byte, b Binding, parts ...[]byte) error {
	if len(tag) != TagSize {
		return fmt.Errorf("envelope: tag is %d bytes, want %d: %w", len(tag), TagSize, ErrAuth)
	}
	bufp := tagPool.Get().(*[]byte)
	ad, check := appendTagAD((*bufp)[:0], descriptor, b, parts)
	_, err := k.aead.Open(nil, nil, tag[checkSize:], ad)
	putTagBuffer(bufp, ad)

	stored := binary.BigEndian.Uint32(tag)
	switch {
	case err != nil && stored != check:
		return ErrBindingMismatch
	case err != nil:
		return ErrAuth
	case subtle.ConstantTimeEq(int32(stored), int32(check)) != 1:
		// The GCM tag verified but the check was edited.
		return ErrAuth
	}
	return nil
}

func putTagBuffer(bufp *[]byte, ad []byte) {
	if cap(ad) > maxPooledTag {
		return
	}
	*bufp = ad[:0]
	tagPool.Put(bufp)
}
