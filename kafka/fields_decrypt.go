package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
)

// extended reports whether raw needs decryptExt: the consumer has field,
// key-token or header settings, or raw carries an encrypted header value
// that whole-value decryption would hand on still sealed, or a tag that
// must be verified.
func (c *Consumer) extended(raw *kgo.Record) bool {
	if c.cfg.ext.enabled() || hasSealedHeader(raw.Headers) {
		return true
	}
	at, err := findTag(raw.Headers)
	return at >= 0 || err != nil
}

// decryptExt is decrypt for records that may carry sealed fields, sealed
// headers or a key token. It verifies the record's tag before it opens
// anything, and modifies raw only on success, so a failed record is never
// handed on partly decrypted.
func (c *Consumer) decryptExt(ctx context.Context, raw *kgo.Record) (Record, error) {
	var d *envelope.Descriptor
	fail := func(err error) (Record, error) {
		return Record{}, c.decryptError(ctx, raw, d, err)
	}
	e := &c.cfg.ext
	at, err := findDescriptor(raw.Headers)
	if err != nil {
		return fail(err)
	}
	if at < 0 {
		return c.decryptPlain(raw, fail)
	}

	parsed, err := envelope.Parse(raw.Headers[at].Value)
	if err != nil {
		return fail(err)
	}
	d = &parsed
	dek, err := c.ring.DEK(keyring.WithTopic(ctx, raw.Topic), parsed)
	if err != nil {
		return fail(err)
	}
	o := recordOpener{dek: dek, desc: raw.Headers[at].Value, topic: raw.Topic, key: raw.Key, alias: c.cfg.aliases[raw.Topic]}
	if err := o.checkTag(raw, parsed.Payload); err != nil {
		return fail(err)
	}
	value, err := c.openValue(&o, parsed.Payload, raw)
	if err != nil {
		return fail(err)
	}
	headerDesc, err := withPayload(parsed, envelope.PayloadHeader)
	if err != nil {
		return fail(err)
	}
	ho := o
	ho.desc = headerDesc
	headers, err := e.openHeaders(raw.Headers, func(sealed []byte, path string) ([]byte, error) {
		return ho.Open(make([]byte, 0, len(sealed)), sealed, path)
	})
	if err != nil {
		return fail(err)
	}
	key, err := e.originalKey(raw.Key)
	if err != nil {
		return fail(err)
	}
	raw.Key, raw.Value, raw.Headers = key, value, headers
	return Record{Record: raw, Encrypted: true, KEKName: parsed.KEKName, KEKVersion: parsed.KEKVersion}, nil
}

// decryptPlain handles a record without a descriptor header: a tombstone,
// or an unencrypted record under AllowUnencrypted. A record that carries
// sealed parts or a tag lost its descriptor header on the way, so it
// fails rather than pass for plaintext.
func (c *Consumer) decryptPlain(raw *kgo.Record, fail func(error) (Record, error)) (Record, error) {
	if hasSealedHeader(raw.Headers) {
		return fail(ErrHeadersWithoutDescriptor)
	}
	if at, err := findTag(raw.Headers); err != nil || at >= 0 {
		return fail(fmt.Errorf("%w: %s header without a kenvelope header", ErrRecordTag, envelope.TagHeaderName))
	}
	if raw.Value != nil && !c.cfg.allowUnencrypted {
		return fail(ErrNotEncrypted)
	}
	if codec := c.cfg.ext.codec; raw.Value != nil && codec != nil && codec.ContainsSealed(raw.Value) {
		return fail(ErrFieldsWithoutDescriptor)
	}
	key, err := c.cfg.ext.originalKey(raw.Key)
	if err != nil {
		return fail(err)
	}
	raw.Key = key
	return Record{Record: raw}, nil
}

// openValue returns raw's value decrypted according to the payload kind.
func (c *Consumer) openValue(o *recordOpener, p envelope.Payload, raw *kgo.Record) ([]byte, error) {
	switch {
	case p == envelope.PayloadHeader:
		if raw.Value != nil {
			return nil, fmt.Errorf("descriptor payload kind is header-only but the record has a value")
		}
		return nil, nil
	case raw.Value == nil:
		return nil, nil // a tombstone carries no ciphertext, whatever its descriptor names
	case p == envelope.PayloadValue:
		return o.Open(make([]byte, 0, max(len(raw.Value)-envelope.Overhead, 0)), raw.Value, "")
	case c.cfg.ext.codec == nil:
		return nil, fmt.Errorf("descriptor payload kind %d is field encryption; configure the Consumer with Fields", p)
	case c.cfg.ext.codec.Payload() != p:
		return nil, fmt.Errorf("descriptor payload kind %d does not match the configured field codec (kind %d)", p, c.cfg.ext.codec.Payload())
	default:
		return c.cfg.ext.codec.Decrypt(raw.Value, o)
	}
}

// recordOpener opens the sealed parts of one record. After a binding
// mismatch it tries the topic that the record's topic mirrors, if a
// TopicAlias names one.
type recordOpener struct {
	dek   *envelope.DEK
	desc  []byte
	topic string
	key   []byte
	alias string
}

// Open implements fields.Opener.
func (o *recordOpener) Open(dst, sealed []byte, path string) ([]byte, error) {
	out, err := o.dek.Open(dst, sealed, o.desc, envelope.Binding{Topic: o.topic, Key: o.key, Path: path})
	if errors.Is(err, envelope.ErrBindingMismatch) && o.alias != "" {
		return o.dek.Open(dst, sealed, o.desc, envelope.Binding{Topic: o.alias, Key: o.key, Path: path})
	}
	return out, err
}

// withPayload returns the encoding of d with its payload kind set to p.
func withPayload(d envelope.Descriptor, p envelope.Payload) ([]byte, error) {
	d.Payload = p
	return d.Marshal()
}
