// Producer encrypts FHIR R4 resources and produces them to a Kafka cluster,
// one record per resource, keyed by the patient id.
//
// Usage:
//
//	go run ./examples/producer -brokers HOST:PORT[,...] (-kek-file PATH | -kek URI) [flags]
//
// -kek-file names a development key file, created with one random version
// when missing; the consumer needs the same file. -kek takes a key URI of
// any backend that the examples import: keyfile:///ABS/PATH, aws-kms://...,
// gcp-kms://..., hcvault://... or tink-keyset://... (see each kms/ package
// for the form and where credentials come from). -fhir reads every *.json
// Bundle in a directory; without it the producer generates -patients
// synthetic patients. Records go out with ProduceSync in batches.
//
// The last line on standard output is the summary, such as
//
//	producer: 35 records, 31.3 kB, 41ms, 0 failed
//
// where the size counts plaintext values. The exit status is 1 when any
// record fails and 2 for invalid flags. The client connects without
// authentication, with TLS only when -tls is set; a production client adds
// SASL through kgo options.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/examples/internal/cli"
	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/kafka"
)

const (
	// batchSize is how many records one ProduceSync call sends.
	batchSize = 100

	// maxLoggedFailures caps the failed records logged one by one, while
	// the summary counts all of them.
	maxLoggedFailures = 10
)

type config struct {
	cli.ClusterFlags
	fhirDir  string
	patients int
	timeout  time.Duration
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the program with the given arguments and outputs and returns
// its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg config
	flags := flag.NewFlagSet("producer", flag.ContinueOnError)
	flags.SetOutput(stderr)
	cfg.CreateKEKFile = true
	cfg.Register(flags)
	flags.StringVar(&cfg.fhirDir, "fhir", "", "read FHIR R4 Bundles from the *.json files in this `directory` (default: generate patients)")
	flags.IntVar(&cfg.patients, "patients", 5, "number of synthetic patients to generate without -fhir")
	flags.DurationVar(&cfg.timeout, "timeout", time.Minute, "give up after this `duration`")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", flags.Name(), err)
		return 2
	}
	if flags.NArg() > 0 || cfg.timeout <= 0 {
		fmt.Fprintln(stderr, "producer: want no arguments and a positive -timeout")
		return 2
	}
	log := cli.NewLogger(stderr, cfg.Verbose)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	if err := produce(ctx, log, stdout, cfg); err != nil {
		log.Error("producer failed", "error", err)
		return 1
	}
	return 0
}

// produce loads the resources, encrypts and produces them, and prints the
// summary line.
func produce(ctx context.Context, log *slog.Logger, stdout io.Writer, cfg config) error {
	opts, err := cfg.ClientOpts(log)
	if err != nil {
		return err
	}
	resources, err := cli.LoadResources(cfg.fhirDir, cfg.patients)
	if err != nil {
		return err
	}
	ring, closeRing, err := cfg.OpenRing(ctx, log)
	if err != nil {
		return err
	}
	defer closeRing()

	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	defer client.Close()
	producer, err := kafka.NewProducer(client, ring, kafka.KEK(cfg.KEKName), kafka.WithProducerLogger(log))
	if err != nil {
		return err
	}

	began := time.Now()
	bytes, failed := produceBatches(ctx, log, producer, cfg.Topic, resources)
	fmt.Fprintf(stdout, "producer: %d records, %s, %s, %d failed\n",
		len(resources)-failed, cli.FormatBytes(bytes), time.Since(began).Round(time.Millisecond), failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d records failed", failed, len(resources))
	}
	return nil
}

// produceBatches produces resources with one ProduceSync call per batch
// and returns the plaintext bytes sent and the number of failed records.
func produceBatches(ctx context.Context, log *slog.Logger, p *kafka.Producer, topic string, resources []fhir.Resource) (int64, int) {
	var bytes int64
	failed := 0
	for start := 0; start < len(resources); start += batchSize {
		batch := resources[start:min(start+batchSize, len(resources))]
		records := make([]*kgo.Record, len(batch))
		for i, res := range batch {
			records[i] = cli.NewRecord(topic, res)
		}
		for i, r := range p.ProduceSync(ctx, records...) {
			if r.Err != nil {
				failed++
				if failed <= maxLoggedFailures {
					log.Error("produce failed", "index", start+i, "type", batch[i].Type, "error", r.Err)
				}
				continue
			}
			bytes += int64(len(batch[i].JSON))
		}
		log.Debug("batch produced", "first", start, "records", len(batch))
	}
	return bytes, failed
}
