package fields_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// benchPatient returns the first Patient of the Synthea sample bundles,
// compacted, or a generated one when the samples are not there.
func benchPatient(b *testing.B) []byte {
	b.Helper()
	dir := filepath.Join("..", "..", "shared", "data", "fhir-r4")
	rs, err := fhir.LoadDir(dir)
	if _, statErr := os.Stat(dir); statErr != nil || err != nil {
		if rs, err = fhir.Generate(1); err != nil {
			b.Fatal(err)
		}
	}
	for _, r := range rs {
		if r.Type == "Patient" {
			var buf bytes.Buffer
			if err := compact(&buf, r.JSON); err != nil {
				b.Fatal(err)
			}
			return buf.Bytes()
		}
	}
	b.Fatal("no Patient resource")
	return nil
}

func benchRing(b *testing.B) *keyring.Ring {
	b.Helper()
	kek, err := keyfile.FromBytes("bench", bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	r, err := keyring.New([]kms.KEK{kek})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	return r
}

// BenchmarkPatient measures one FHIR Patient record per operation. It
// seals and opens the five identifying fields through the JSON codec,
// with and without the record tag that package kafka adds. It seals and
// opens the whole value, and copies it as the cost of sending it without
// encryption.
func BenchmarkPatient(b *testing.B) {
	ctx := context.Background()
	value := benchPatient(b)
	ring := benchRing(b)
	paths := []string{"name", "telecom", "address", "birthDate", "identifier"}
	sel, err := fields.NewSelection(paths, fields.Optional("telecom", "address", "identifier"))
	if err != nil {
		b.Fatal(err)
	}
	codec, err := fields.NewJSON(sel)
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("patient-key")
	reserve := func(n, size int) (fields.Sealer, error) {
		res, err := ring.Reserve(ctx, "bench", n, size)
		if err != nil {
			return nil, err
		}
		return &fields.RecordCipher{DEK: res.DEK(), Descriptor: res.Descriptor(envelope.PayloadJSON), Topic: "fhir", Key: key}, nil
	}

	b.Run("plain-copy", func(b *testing.B) {
		b.SetBytes(int64(len(value)))
		b.ReportAllocs()
		for b.Loop() {
			_ = bytes.Clone(value)
		}
	})
	b.Run("fields-encrypt", func(b *testing.B) {
		b.SetBytes(int64(len(value)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Encrypt(value, reserve); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fields-decrypt", func(b *testing.B) {
		var cipher *fields.RecordCipher
		enc, err := codec.Encrypt(value, func(n, size int) (fields.Sealer, error) {
			s, err := reserve(n, size)
			cipher, _ = s.(*fields.RecordCipher)
			return s, err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(value)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Decrypt(enc, cipher); err != nil {
				b.Fatal(err)
			}
		}
	})
	binding := envelope.Binding{Topic: "fhir", Key: key}
	benchTagged(b, codec, value, func(n, size int) (*fields.RecordCipher, error) {
		s, err := reserve(n, size)
		c, _ := s.(*fields.RecordCipher)
		return c, err
	})
	b.Run("whole-encrypt", func(b *testing.B) {
		b.SetBytes(int64(len(value)))
		b.ReportAllocs()
		for b.Loop() {
			dst := make([]byte, 0, envelope.SealedLen(len(value)))
			if _, _, err := ring.Seal(ctx, "bench", envelope.PayloadValue, dst, value, binding); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole-decrypt", func(b *testing.B) {
		desc, sealed, err := ring.Seal(ctx, "bench", envelope.PayloadValue, nil, value, binding)
		if err != nil {
			b.Fatal(err)
		}
		d, err := envelope.Parse(desc)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(value)))
		b.ReportAllocs()
		for b.Loop() {
			dek, err := ring.DEK(ctx, d)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := dek.Open(make([]byte, 0, len(value)), sealed, desc, binding); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchTagged measures field encryption followed by the record tag over
// the stored value, and the tag check followed by field decryption, as
// package kafka does them for a record without sealed headers. reserve
// returns the cipher of the reserved DEK.
func benchTagged(b *testing.B, codec *fields.JSON, value []byte, reserve func(n, size int) (*fields.RecordCipher, error)) {
	var cipher *fields.RecordCipher
	// The producer reserves one more value for the tag's nonce.
	reserveTagged := func(n, size int) (fields.Sealer, error) {
		var err error
		cipher, err = reserve(n+1, size)
		return cipher, err
	}
	tag := make([]byte, 0, envelope.TagSize)
	b.Run("fields-encrypt-tagged", func(b *testing.B) {
		b.SetBytes(int64(len(value)))
		b.ReportAllocs()
		for b.Loop() {
			enc, err := codec.Encrypt(value, reserveTagged)
			if err != nil {
				b.Fatal(err)
			}
			binding := envelope.Binding{Topic: cipher.Topic, Key: cipher.Key}
			tag = cipher.DEK.Tag(tag[:0], cipher.Descriptor, binding, enc)
		}
	})
	b.Run("tag-only", func(b *testing.B) {
		enc, err := codec.Encrypt(value, reserveTagged)
		if err != nil {
			b.Fatal(err)
		}
		binding := envelope.Binding{Topic: cipher.Topic, Key: cipher.Key}
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			tag = cipher.DEK.Tag(tag[:0], cipher.Descriptor, binding, enc)
		}
	})
	b.Run("check-tag-only", func(b *testing.B) {
		enc, err := codec.Encrypt(value, reserveTagged)
		if err != nil {
			b.Fatal(err)
		}
		binding := envelope.Binding{Topic: cipher.Topic, Key: cipher.Key}
		tag = cipher.DEK.Tag(tag[:0], cipher.Descriptor, binding, enc)
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			if err := cipher.DEK.CheckTag(tag, cipher.Descriptor, binding, enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fields-decrypt-tagged", func(b *testing.B) {
		enc, err := codec.Encrypt(value, reserveTagged)
		if err != nil {
			b.Fatal(err)
		}
		binding := envelope.Binding{Topic: cipher.Topic, Key: cipher.Key}
		tag = cipher.DEK.Tag(tag[:0], cipher.Descriptor, binding, enc)
		b.SetBytes(int64(len(value)))
		b.ReportAllocs()
		for b.Loop() {
			if err := cipher.DEK.CheckTag(tag, cipher.Descriptor, binding, enc); err != nil {
				b.Fatal(err)
			}
			if _, err := codec.Decrypt(enc, cipher); err != nil {
				b.Fatal(err)
			}
		}
	})
}
