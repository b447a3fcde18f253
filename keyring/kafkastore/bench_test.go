package kafkastore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/keyring"
)

// BenchmarkShredPropagation measures the time from Shred returning in one
// process until the last of three consumer processes rejects a record of
// the shredded subject whose DEK it had cached. Each consumer is a Ring
// with its own Store reading the topic. ns-to-last-refusal is the mean and
// max-ms the worst iteration.
func BenchmarkShredPropagation(b *testing.B) {
	c := newCluster(b)
	producer, _ := process(b, c)
	consumers := make([]*keyring.Ring, 3)
	for i := range consumers {
		consumers[i], _ = process(b, c)
	}
	var total, worst time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		subject := fmt.Sprintf("Patient/bench-%d", i)
		i++
		desc, sealed := seal(b, producer, subject)
		for _, r := range consumers {
			if _, err := open(r, desc, sealed); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, err := producer.Shred(context.Background(), []byte(subject)); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for _, r := range consumers {
			for {
				if _, err := open(r, desc, sealed); err != nil {
					break
				}
				if time.Since(start) > 10*time.Second {
					b.Fatal("a consumer still opens the record 10s after Shred")
				}
				runtime.Gosched()
			}
		}
		d := time.Since(start)
		total, worst = total+d, max(worst, d)
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns-to-last-refusal")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
}

// BenchmarkStoreSizePerSubject creates one DEK for each of 10,000
// subjects in a Store and reports the topic's size on the broker, as
// DescribeLogDirs returns it, per subject. Run it with -benchtime 1x.
func BenchmarkStoreSizePerSubject(b *testing.B) {
	const subjects = 10_000
	for b.Loop() {
		c := newCluster(b)
		r, _ := process(b, c)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < subjects; i += 8 {
					seal(b, r, fmt.Sprintf("Patient/00000000-0000-4000-8000-%012d", i))
				}
			}()
		}
		wg.Wait()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
		if err != nil {
			b.Fatal(err)
		}
		dirs, err := kadm.NewClient(cl).DescribeAllLogDirs(context.Background(), kadm.TopicsSet{topic: {0: {}}})
		cl.Close()
		if err != nil {
			b.Fatal(err)
		}
		var size int64
		dirs.Each(func(d kadm.DescribedLogDir) {
			for _, ps := range d.Topics {
				for _, p := range ps {
					size += p.Size
				}
			}
		})
		b.ReportMetric(float64(size)/subjects, "bytes/subject")
	}
}
