package backendtest

import (
	"bytes"
	"context"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// countCalls seals n values with a producer Ring and opens each with a
// consumer Ring, both built with opts, and returns the wraps and unwraps
// they made. When rotateAt is positive, the producer's Ring.Rotate runs
// before value rotateAt is sealed.
func countCalls(tb testing.TB, n, rotateAt int, opts ...keyring.Opt) (wraps, unwraps int64) {
	tb.Helper()
	kek, err := keyfile.FromBytes("phi", bytes.Repeat([]byte{1}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	producerKEK, consumerKEK := kmstest.NewCounting(kek), kmstest.NewCounting(kek)
	producer, err := keyring.New([]kms.KEK{producerKEK}, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	defer producer.Close()
	consumer, err := keyring.New([]kms.KEK{consumerKEK}, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	defer consumer.Close()

	ctx := context.Background()
	b := envelope.Binding{Topic: "phi"}
	value := []byte("observation")
	sealed := make([]byte, 0, 256)
	opened := make([]byte, 0, 256)
	for i := range n {
		if i == rotateAt && rotateAt > 0 {
			if err := producer.Rotate("phi"); err != nil {
				tb.Fatal(err)
			}
		}
		desc, s, err := producer.Seal(ctx, "phi", envelope.PayloadValue, sealed[:0], value, b)
		if err != nil {
			tb.Fatalf("Seal() of value %d err = %v", i, err)
		}
		d, err := envelope.Parse(desc)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := consumer.Open(ctx, d, desc, opened[:0], s, b); err != nil {
			tb.Fatalf("Open() of value %d err = %v", i, err)
		}
	}
	return producerKEK.Wraps(), consumerKEK.Unwraps()
}

// TestKMSCallsFormula checks the counts that BENCHMARKS.md derives: a
// producer wraps ceil(N/MaxRecords) DEKs per KEK, plus one for each
// Ring.Rotate in the middle of a DEK, and a consumer unwraps each distinct
// DEK once while it stays cached.
func TestKMSCallsFormula(t *testing.T) {
	const n, maxRecords = 10_000, 1_000
	wraps, unwraps := countCalls(t, n, 5_500, keyring.MaxRecords(maxRecords))
	const want = n/maxRecords + 1
	if wraps != want {
		t.Errorf("producer wraps = %d, want ceil(%d/%d) + 1 rotation = %d", wraps, n, maxRecords, want)
	}
	if unwraps != want {
		t.Errorf("consumer unwraps = %d, want one per distinct DEK = %d", unwraps, want)
	}
}

// BenchmarkKMSCallsPerMillion seals a million values with a Ring of default
// options and opens them with another, as one producer and one consumer
// would, and reports the KMS calls each made. Run it with -benchtime=1x.
func BenchmarkKMSCallsPerMillion(b *testing.B) {
	const n = 1_000_000
	var wraps, unwraps int64
	for b.Loop() {
		w, u := countCalls(b, n, 0)
		wraps, unwraps = wraps+w, unwraps+u
	}
	b.ReportMetric(float64(wraps)/float64(b.N), "wraps/1M-records")
	b.ReportMetric(float64(unwraps)/float64(b.N), "unwraps/1M-records")
}
