package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/tokens"
)

// RecordOpt is an option that configures a Producer and a Consumer alike,
// so both sides can be given the same value.
type RecordOpt interface {
	ProducerOpt
	ConsumerOpt
}

// extConfig holds the settings beyond whole-value encryption: field
// encryption of the value, key tokens and encrypted headers.
type extConfig struct {
	codec   fields.Codec
	keys    tokens.Tokenizer
	headers map[string]bool
}

func (e *extConfig) enabled() bool { return e.codec != nil || e.keys != nil || len(e.headers) > 0 }

type recordOpt func(*extConfig)

func (f recordOpt) applyProducer(c *producerConfig) { f(&c.ext) }
func (f recordOpt) applyConsumer(c *consumerConfig) { f(&c.ext) }

// Fields makes a Producer encrypt the fields that codec selects in each
// record value instead of the whole value, and a Consumer decrypt them.
// The descriptor's payload kind names the codec's format, and a Consumer
// fails a record of another kind. Default: whole values are encrypted.
//
// A Producer also adds an integrity tag (envelope.DEK.Tag) in the header
// envelope.TagHeaderName. It covers the whole stored value and every
// sealed header value, with the header's name, and is bound to the
// descriptor, topic and key. A Consumer verifies it before it opens any
// field and fails the record with ErrRecordTag if the tag is missing,
// duplicated or wrong. So a clear field that was edited, a sealed field
// that was deleted, or one pasted in from another record under the same
// DEK fails the record. Headers that are not sealed are not covered.
//
// A Consumer with AllowUnencrypted still fails a record without a
// descriptor header whose value the codec finds sealed fields in
// (fields.Codec.ContainsSealed), with ErrFieldsWithoutDescriptor: the
// header was stripped on the way, and the record is not plaintext.
func Fields(codec fields.Codec) RecordOpt {
	return recordOpt(func(e *extConfig) { e.codec = codec })
}

// encryptExt is encrypt for a producer with field encryption, key tokens
// or encrypted headers. It modifies r only on success.
func (p *Producer) encryptExt(ctx context.Context, r *kgo.Record) error {
	kek := p.kekFor(r.Topic)
	fail := func(err error) error {
		p.cfg.logger.Warn("kenvelope: record not encrypted", "topic", r.Topic, "kek", kek, "error", err)
		return &RecordError{Op: "encrypt", Topic: r.Topic, Partition: -1, Offset: -1, KEKName: kek, Err: err}
	}
	if r.Topic == "" {
		return fail(ErrNoTopic)
	}
	at, err := findDescriptor(r.Headers)
	if err != nil {
		return fail(err)
	}
	if at >= 0 {
		if p.cfg.passThrough {
			return nil
		}
		return fail(ErrAlreadyEncrypted)
	}
	if tagAt, err := findTag(r.Headers); err != nil || tagAt >= 0 {
		return fail(fmt.Errorf("%w: the record given to the producer already carries a %s header", ErrRecordTag, envelope.TagHeaderName))
	}
	e := &p.cfg.ext
	key, err := e.tokenKey(r.Key)
	if err != nil {
		return fail(err)
	}
	work, headerBytes, err := e.headersToSeal(r.Headers)
	if err != nil {
		return fail(err)
	}
	if r.Value == nil && len(work) == 0 {
		r.Key = key // a tombstone stays a tombstone, under the key's token
		return nil
	}
	if kek == "" {
		return fail(fmt.Errorf("%w for topic %q", errNoKEK, r.Topic))
	}
	subject, err := p.recordSubject(r)
	if err != nil {
		return fail(err)
	}

	// A record with sealed fields or sealed headers gets a tag, which
	// costs one nonce of the DEK like a sealed value.
	tagged := (e.codec != nil && r.Value != nil) || len(work) > 0
	extra := len(work)
	if tagged {
		extra++
	}
	s := recordSealer{ctx: ctx, ring: p.ring, kek: kek, subject: subject, topic: r.Topic, key: key, extra: extra, extraBytes: headerBytes}
	value, err := s.sealValue(e.codec, r.Value)
	if err != nil {
		return fail(err)
	}
	dek := s.res.DEK()
	desc := s.res.Descriptor(s.payload)
	headers := sealHeaders(r.Headers, work, dek, s.res.Descriptor(envelope.PayloadHeader), r.Topic, key)
	headers = append(headers, kgo.RecordHeader{Key: envelope.HeaderName, Value: desc})
	if tagged {
		tag := dek.Tag(nil, desc, envelope.Binding{Topic: r.Topic, Key: key}, tagParts(value, headers)...)
		headers = append(headers, kgo.RecordHeader{Key: envelope.TagHeaderName, Value: tag})
	}

	// NOTE: unlike whole-value encryption, the size is checked after
	// sealing, because a codec's output size is known only then. An
	// oversized record has used nonces of the DEK but sends nothing.
	if size := len(key) + len(value) + headersSize(headers); size > p.cfg.maxBytes {
		plain := len(r.Key) + len(r.Value) + headersSize(r.Headers)
		return fail(&RecordTooLargeError{PlainSize: plain, EncryptedSize: size, Max: p.cfg.maxBytes})
	}
	r.Key, r.Value, r.Headers = key, value, headers
	return nil
}

// recordSealer reserves one DEK for everything a record seals: its value
// or value fields, its encrypted headers and its tag. The DEK is the
// subject's when subject is set, else the KEK's stream DEK.
type recordSealer struct {
	ctx        context.Context
	ring       *keyring.Ring
	kek        string
	subject    []byte
	topic      string
	key        []byte
	extra      int // header values to seal, and the tag
	extraBytes int
	payload    envelope.Payload
	res        keyring.Reservation
}

// reserve is the fields.ReserveFunc for the record.
func (s *recordSealer) reserve(count, size int) (fields.Sealer, error) {
	var res keyring.Reservation
	var err error
	if s.subject != nil {
		ctx := keyring.WithTopic(s.ctx, s.topic)
		res, err = s.ring.ReserveSubject(ctx, s.kek, s.subject, count+s.extra, size+s.extraBytes)
	} else {
		res, err = s.ring.Reserve(s.ctx, s.kek, count+s.extra, size+s.extraBytes)
	}
	if err != nil {
		return nil, err
	}
	s.res = res
	return &fields.RecordCipher{DEK: res.DEK(), Descriptor: res.Descriptor(s.payload), Topic: s.topic, Key: s.key}, nil
}

// sealValue seals value whole, or its fields with codec, or nothing for a
// tombstone, and leaves the reservation in s.res.
func (s *recordSealer) sealValue(codec fields.Codec, value []byte) ([]byte, error) {
	switch {
	case value == nil:
		s.payload = envelope.PayloadHeader
		_, err := s.reserve(0, 0)
		return nil, err
	case codec != nil:
		s.payload = codec.Payload()
		out, err := codec.Encrypt(value, s.reserve)
		if err == nil && s.res == (keyring.Reservation{}) {
			err = fmt.Errorf("field codec for payload kind %d sealed without reserving a DEK", s.payload)
		}
		return out, err
	default:
		s.payload = envelope.PayloadValue
		c, err := s.reserve(1, len(value))
		if err != nil {
			return nil, err
		}
		return c.Seal(make([]byte, 0, envelope.SealedLen(len(value))), value, ""), nil
	}
}
