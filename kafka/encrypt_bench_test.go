package kafka

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/internal/fhir"
)

const benchPatients = 10_000

// benchResources returns the resources of the sample FHIR bundles, or
// generated ones when the samples are not there.
func benchResources(b *testing.B) [][]byte {
	b.Helper()
	dir := filepath.Join("..", "..", "shared", "data", "fhir-r4")
	rs, err := fhir.LoadDir(dir)
	if _, statErr := os.Stat(dir); statErr != nil || err != nil {
		if rs, err = fhir.Generate(20); err != nil {
			b.Fatal(err)
		}
	}
	out := make([][]byte, len(rs))
	for i, r := range rs {
		out[i] = r.JSON
	}
	return out
}

// BenchmarkEncrypt measures the Producer's encryption of one record, the
// work Produce does before it hands the record to franz-go, under a
// stream key and under subject keys (SubjectKey) for 10,000 patients in
// turn, each DEK already cached. "fhir" values are the resources of the
// sample bundles in order; "100B" and "1KiB" values are zero bytes. Compare
// with
//
//	benchstat -col /keys
func BenchmarkEncrypt(b *testing.B) {
	stream, subject := newEncryptPair(b)

	keys := make([][]byte, benchPatients)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "Patient/00000000-0000-4000-8000-%012d", i)
	}
	ctx := context.Background()
	encrypt := func(b *testing.B, p *Producer, key, value []byte) {
		r := &kgo.Record{Topic: "fhir", Key: key, Value: value}
		if err := p.encrypt(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	for _, k := range keys {
		encrypt(b, subject, k, []byte("{}")) // warm every subject's DEK
	}

	for _, set := range []struct {
		name   string
		values [][]byte
	}{{"fhir", benchResources(b)}, {"100B", [][]byte{make([]byte, 100)}}, {"1KiB", [][]byte{make([]byte, 1024)}}} {
		var total int
		for _, v := range set.values {
			total += len(v)
		}
		perValue := int64(total / len(set.values))
		for _, run := range []struct {
			name string
			p    *Producer
		}{{"stream", stream}, {"subject", subject}} {
			b.Run("values="+set.name+"/keys="+run.name, func(b *testing.B) {
				b.SetBytes(perValue)
				i := 0
				for b.Loop() {
					encrypt(b, run.p, keys[i%len(keys)], set.values[i%len(set.values)])
					i++
				}
			})
		}
	}
}
