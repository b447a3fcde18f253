package keyring_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

const benchSubjects = 10_000

// subjectBenchSizes are value sizes in bytes. The resources of the sample
// FHIR bundles average 3.4 kB, with a median of 1.9 kB.
var subjectBenchSizes = []int{100, 1024, 4096, 16384}

// BenchmarkSealSubject compares SealSubject over 10,000 subjects, each DEK
// already cached, with stream-key Seal of the same values in the same run.
// Each SealSubject is for the next subject in turn, so every cached DEK
// is used. dst=alloc lets Seal allocate the sealed value, as kafka.Producer
// does for every record; dst=buf seals into a buffer of the caller's.
// procs=all seals from GOMAXPROCS goroutines at once, each allocating.
// The store is a MemoryStore: a warm SealSubject does not reach the store,
// whichever kind it is. Compare with
//
//	benchstat -col /keys
func BenchmarkSealSubject(b *testing.B) {
	ring := newRing(b, []kms.KEK{newKEK(b, "patients")}, keyring.WithKeyStore(keyring.NewMemoryStore()))
	subjects := make([][]byte, benchSubjects)
	ctx := context.Background()
	for i := range subjects {
		subjects[i] = fmt.Appendf(nil, "Patient/00000000-0000-4000-8000-%012d", i)
		if _, _, err := ring.SealSubject(ctx, "patients", subjects[i], envelope.PayloadValue, nil, nil, binding); err != nil {
			b.Fatal(err)
		}
	}
	// seal seals pt into dst under a stream key, or under the DEK of
	// subject i when subjectKeys is true.
	seal := func(subjectKeys bool, i int, dst, pt []byte) error {
		var err error
		if subjectKeys {
			_, _, err = ring.SealSubject(ctx, "patients", subjects[i], envelope.PayloadValue, dst, pt, binding)
		} else {
			_, _, err = ring.Seal(ctx, "patients", envelope.PayloadValue, dst, pt, binding)
		}
		return err
	}
	for _, n := range subjectBenchSizes {
		pt := make([]byte, n)
		for _, c := range []struct {
			dst, procs string
		}{{"alloc", "1"}, {"buf", "1"}, {"alloc", "all"}} {
			for _, keys := range []string{"stream", "subject"} {
				name := fmt.Sprintf("size=%d/dst=%s/procs=%s/keys=%s", n, c.dst, c.procs, keys)
				b.Run(name, func(b *testing.B) {
					b.SetBytes(int64(n))
					b.ReportAllocs()
					if c.procs == "1" {
						var dst []byte
						if c.dst == "buf" {
							dst = make([]byte, 0, 2*n+256)
						}
						i := 0
						for b.Loop() {
							if err := seal(keys == "subject", i, dst, pt); err != nil {
								b.Fatal(err)
							}
							i = (i + 1) % benchSubjects
						}
						return
					}
					var started atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						// Goroutines that started on the same subject would
						// seal for the same subjects in step, and contend
						// for their counters as no real producer does.
						i := int(started.Add(1)) * (benchSubjects / 8) % benchSubjects
						for pb.Next() {
							if err := seal(keys == "subject", i, nil, pt); err != nil {
								b.Error(err)
								return
							}
							i = (i + 7) % benchSubjects
						}
					})
				})
			}
		}
	}
}

// BenchmarkSubjectStreamRatio alternates batches of 1,000 stream seals and
// 1,000 subject seals over 10,000 warm subjects and reports their
// throughput ratio, so that load from other processes on the machine
// affects both sides alike. "round-robin" moves to the next subject after
// every record, the worst case for CPU caches. "bursts-of-16" seals 16
// records per subject in a row, as a producer does for the resources of
// one FHIR bundle. ns/op counts one batch of each kind.
func BenchmarkSubjectStreamRatio(b *testing.B) {
	ring := newRing(b, []kms.KEK{newKEK(b, "patients")}, keyring.WithKeyStore(keyring.NewMemoryStore()))
	ctx := context.Background()
	subjects := make([][]byte, benchSubjects)
	for i := range subjects {
		subjects[i] = fmt.Appendf(nil, "Patient/00000000-0000-4000-8000-%012d", i)
		if _, _, err := ring.SealSubject(ctx, "patients", subjects[i], envelope.PayloadValue, nil, nil, binding); err != nil {
			b.Fatal(err)
		}
	}
	for _, run := range []struct {
		name  string
		burst int
	}{{"round-robin", 1}, {"bursts-of-16", 16}} {
		for _, n := range subjectBenchSizes {
			b.Run(fmt.Sprintf("%s/%d", run.name, n), func(b *testing.B) {
				benchRatio(b, ring, subjects, make([]byte, n), run.burst)
			})
		}
	}
}

func benchRatio(b *testing.B, ring *keyring.Ring, subjects [][]byte, pt []byte, burst int) {
	ctx := context.Background()
	var stream, subject time.Duration
	next := 0
	for b.Loop() {
		start := time.Now()
		for range 1000 {
			if _, _, err := ring.Seal(ctx, "patients", envelope.PayloadValue, nil, pt, binding); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range 1000 {
			s := subjects[next/burst%len(subjects)]
			if _, _, err := ring.SealSubject(ctx, "patients", s, envelope.PayloadValue, nil, pt, binding); err != nil {
				b.Fatal(err)
			}
			next++
		}
		stream, subject = stream+mid.Sub(start), subject+time.Since(mid)
	}
	b.ReportMetric(float64(stream)/float64(subject), "subject/stream-throughput")
	b.ReportMetric(float64(stream.Nanoseconds())/float64(1000*b.N), "stream-ns/seal")
	b.ReportMetric(float64(subject.Nanoseconds())/float64(1000*b.N), "subject-ns/seal")
}
