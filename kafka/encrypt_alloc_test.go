package kafka

import (
	"bytes"
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// newEncryptPair returns two Producers on one in-process broker and one
// keyring with a MemoryStore: one sealing under a stream key of KEK
// "patients", the other under subject keys taken from the record key.
func newEncryptPair(tb testing.TB) (stream, subject *Producer) {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	kek, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{3}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := keyring.New([]kms.KEK{kek}, keyring.WithKeyStore(keyring.NewMemoryStore()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ring.Close)

	if stream, err = NewProducer(cl, ring, KEK("patients")); err != nil {
		tb.Fatal(err)
	}
	if subject, err = NewProducer(cl, ring, KEK("patients"), SubjectKey()); err != nil {
		tb.Fatal(err)
	}
	return stream, subject
}

// The subject path once gave SealSubject a buffer one associated-data
// length too small, so every record under a subject key was allocated
// twice. Encrypting a record must allocate the same under either key.
func TestSubjectEncryptAllocatesAsStream(t *testing.T) {
	stream, subject := newEncryptPair(t)
	value := make([]byte, 1024)
	allocs := func(p *Producer) float64 {
		return testing.AllocsPerRun(100, func() {
			r := &kgo.Record{Topic: "fhir", Key: []byte("Patient/1"), Value: value}
			if err := p.encrypt(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		})
	}

	if s, u := allocs(stream), allocs(subject); u != s {
		t.Errorf("allocations per record: %v under a subject key, %v under a stream key", u, s)
	}
}
