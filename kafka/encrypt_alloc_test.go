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

// The subject path once gave SealSubject a buffer one associated-data
// length too small, so every record under a subject key was allocated
// twice. Encrypting a record must allocate the same under either key.
func TestSubjectEncryptAllocatesAsStream(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kek, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New([]kms.KEK{kek}, keyring.WithKeyStore(keyring.NewMemoryStore()))
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	stream, err := NewProducer(cl, ring, KEK("patients"))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := NewProducer(cl, ring, KEK("patients"), SubjectKey())
	if err != nil {
		t.Fatal(err)
	}
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
