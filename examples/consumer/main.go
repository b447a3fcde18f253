// Consumer reads a topic from the start, decrypts each record and prints
// one line per record: topic, partition, offset, key length, value length
// and the KEK that protected it.
//
// Usage:
//
//	go run ./examples/consumer -brokers HOST:PORT[,...] (-kek-file PATH | -kek URI) [flags]
//
// The KEK flags are those of the producer, and -kek-name must match the
// name the producer recorded. -print also writes each decrypted value, the
// PHI itself, on the line after its record line. -n stops after that many
// records. -timeout stops after that duration; zero, the default, runs
// until -n is reached or the process is interrupted.
//
// The consumer keeps the kafka package's default policy, Fail: a record
// that cannot be decrypted (wrong KEK, tampered value, missing descriptor)
// stops the program with exit status 1, and nothing of it is printed. The
// last line on standard output is the summary, such as
//
//	consumer: 35 records, 31.3 kB, 12ms
//
// The exit status is also 1 when -timeout ends the run before -n records,
// and 2 for invalid flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/examples/internal/cli"
	"github.com/kenvelope/kenvelope/kafka"
)

type config struct {
	cli.ClusterFlags
	limit   int
	timeout time.Duration
	print   bool
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the program with the given arguments and outputs and returns
// its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg config
	flags := flag.NewFlagSet("consumer", flag.ContinueOnError)
	flags.SetOutput(stderr)
	cfg.Register(flags)
	flags.IntVar(&cfg.limit, "n", 0, "stop after this many records (0: no limit)")
	flags.DurationVar(&cfg.timeout, "timeout", 0, "stop after this `duration` (0: no limit)")
	flags.BoolVar(&cfg.print, "print", false, "also print each decrypted value (PHI) to standard output")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", flags.Name(), err)
		return 2
	}
	if flags.NArg() > 0 || cfg.limit < 0 || cfg.timeout < 0 {
		fmt.Fprintln(stderr, "consumer: want no arguments, and -n and -timeout not negative")
		return 2
	}
	log := cli.NewLogger(stderr, cfg.Verbose)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}

	if err := consume(ctx, log, stdout, cfg); err != nil {
		log.Error("consumer failed", "error", err)
		return 1
	}
	return 0
}

// tally counts what the consumer returned.
type tally struct {
	records int
	bytes   int64
}

// consume reads and decrypts records until -n is reached, ctx ends or a
// record fails to decrypt, and prints the summary line in every case.
func consume(ctx context.Context, log *slog.Logger, stdout io.Writer, cfg config) error {
	opts, err := cfg.ClientOpts(log)
	if err != nil {
		return err
	}
	ring, closeRing, err := cfg.OpenRing(ctx, log)
	if err != nil {
		return err
	}
	defer closeRing()

	opts = append(opts, kgo.ConsumeTopics(cfg.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	defer client.Close()
	consumer, err := kafka.NewConsumer(client, ring, kafka.WithConsumerLogger(log))
	if err != nil {
		return err
	}

	began := time.Now()
	var t tally
	err = pollLoop(ctx, log, stdout, consumer, cfg, &t)
	fmt.Fprintf(stdout, "consumer: %d records, %s, %s\n", t.records, cli.FormatBytes(t.bytes), time.Since(began).Round(time.Millisecond))
	return err
}

// pollLoop polls until the limit is reached, ctx ends or a record fails to
// decrypt, printing each record.
func pollLoop(ctx context.Context, log *slog.Logger, w io.Writer, c *kafka.Consumer, cfg config, t *tally) error {
	for cfg.limit == 0 || t.records < cfg.limit {
		records, err := c.Poll(ctx)
		for _, r := range records {
			if cfg.limit > 0 && t.records == cfg.limit {
				break
			}
			printRecord(w, r, cfg.print)
			t.records++
			t.bytes += int64(len(r.Value))
		}

		var recErr *kafka.RecordError
		switch {
		case errors.As(err, &recErr):
			// Under the Fail policy the same record would come back on
			// the next Poll, so stop here.
			return err
		case ctx.Err() != nil:
			return stopped(ctx, cfg, t)
		case err != nil:
			log.Warn("fetch failed, polling again", "error", err)
		}
	}
	return nil
}

// stopped returns the error for a run that ctx ended: none when there was
// no -n to reach or an interrupt ended it.
func stopped(ctx context.Context, cfg config, t *tally) error {
	if cfg.limit == 0 || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil
	}
	return fmt.Errorf("timed out after %v with %d of %d records", cfg.timeout, t.records, cfg.limit)
}

func printRecord(w io.Writer, r kafka.Record, withValue bool) {
	kek := "none (not encrypted)"
	switch {
	case r.Encrypted:
		kek = fmt.Sprintf("%s v%d", r.KEKName, r.KEKVersion)
	case r.Value == nil:
		kek = "none (tombstone)"
	}
	fmt.Fprintf(w, "%s/%d@%d key %d B value %d B kek %s\n", r.Topic, r.Partition, r.Offset, len(r.Key), len(r.Value), kek)
	if withValue {
		fmt.Fprintf(w, "%s\n", r.Value)
	}
}
