package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/examples/internal/cli"
	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/kafka"
)

// maxLoggedFailures caps the failed records logged one by one, while the
// summary counts all of them.
const maxLoggedFailures = 10

// position is the partition and offset of a produced record.
type position struct {
	partition int32
	offset    int64
}

// produceAll encrypts and produces every resource as one record and
// returns, for each record the broker acknowledged, the index of its
// resource. A record that failed is logged and left out of the map, and
// the returned error counts the failures.
func produceAll(ctx context.Context, log *slog.Logger, e *env, topic string, resources []fhir.Resource) (map[position]int, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.WithLogger(cli.KgoLogger(log)))
	if err != nil {
		return nil, fmt.Errorf("create producer client: %w", err)
	}
	defer client.Close()

	opts := []kafka.ProducerOpt{kafka.KEK(kekName), kafka.WithProducerLogger(log)}
	for _, o := range e.recordOpts {
		opts = append(opts, o)
	}
	producer, err := kafka.NewProducer(client, e.ring, opts...)
	if err != nil {
		return nil, err
	}

	var (
		mu     sync.Mutex
		sent   = make(map[position]int, len(resources))
		failed int
	)
	began := time.Now()
	for i, res := range resources {
		// The promise runs on a franz-go goroutine, or at once when
		// encryption fails, so it only records the outcome.
		producer.Produce(ctx, cli.NewRecord(topic, res), func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if failed <= maxLoggedFailures {
					log.Error("produce failed", "index", i, "type", res.Type, "error", err)
				}
				return
			}
			sent[position{r.Partition, r.Offset}] = i
		})
	}
	if err := producer.Flush(ctx); err != nil {
		return sent, fmt.Errorf("flush producer: %w", err)
	}

	mu.Lock()
	defer mu.Unlock()
	log.Info("produced", "records", len(sent), "failed", failed, "topic", topic, "elapsed", time.Since(began).Round(time.Millisecond))
	if failed > 0 {
		return sent, fmt.Errorf("%d of %d records failed to produce", failed, len(resources))
	}
	return sent, nil
}
