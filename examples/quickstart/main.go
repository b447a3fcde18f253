// Quickstart runs the whole kenvelope round trip in one process, with
// nothing to set up. It starts an in-process Kafka broker (franz-go's kfake
// on 127.0.0.1) and a development KEK in a temporary key file. It encrypts
// FHIR R4 resources into a topic and shows one record as the broker stores
// it. Then it consumes and decrypts every record and compares each value
// byte for byte with the input.
//
// Usage:
//
//	go run ./examples/quickstart [-fhir DIR] [-topic NAME] [-fields] [-v]
//
// -fhir reads every *.json file in DIR as a FHIR Bundle and produces each
// entry's resource as one record, keyed by the id of the patient it belongs
// to. Without -fhir the program generates a few synthetic patients.
//
// -fields encrypts only the identifying fields of each resource (see
// fields.go) and replaces each record key with its AES-SIV token, so the
// stored record shows which fields stay readable.
//
// The last line on standard output is the summary, such as
//
//	quickstart: 35 records, 31.3 kB, 12ms, 0 mismatches
//
// where the size counts plaintext values and the time runs from the first
// produce to the last check. The exit status is 1 on any mismatch, missing
// record or error, and 2 for invalid flags. Logs go to standard error and
// carry counts, sizes, topics and offsets, never record keys or values.
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

	"github.com/kenvelope/kenvelope/examples/internal/cli"
)

const (
	// generatedPatients is how many synthetic patients the quickstart
	// generates without -fhir.
	generatedPatients = 5

	// runTimeout bounds the whole run, so a broken setup fails instead of
	// waiting forever.
	runTimeout = 2 * time.Minute
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the program with the given arguments and outputs and returns
// its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("fhir", "", "read FHIR R4 Bundles from the *.json files in this `directory` (default: generate synthetic patients)")
	topic := flags.String("topic", "fhir.r4", "topic to produce to and consume from")
	verbose := flags.Bool("v", false, "log debug messages, franz-go's included")
	withFields := flags.Bool("fields", false, "encrypt only the identifying fields of each resource and replace keys with tokens (see fields.go)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "quickstart: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	log := cli.NewLogger(stderr, *verbose)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()

	if err := roundTrip(ctx, log, stdout, *dir, *topic, *withFields); err != nil {
		log.Error("quickstart failed", "error", err)
		return 1
	}
	return 0
}

// roundTrip runs the quickstart and prints the summary line. It returns an
// error for any failure, mismatch or missing record.
func roundTrip(ctx context.Context, log *slog.Logger, stdout io.Writer, dir, topic string, withFields bool) error {
	resources, err := cli.LoadResources(dir, generatedPatients)
	if err != nil {
		return err
	}
	if len(resources) == 0 {
		return errors.New("no resources to produce: the bundles have no entries")
	}

	env, err := start(log, topic)
	if err != nil {
		return err
	}
	defer env.close(log)
	if withFields {
		if err := useFields(env, resources); err != nil {
			return err
		}
	}

	began := time.Now()
	sent, produceErr := produceAll(ctx, log, env, topic, resources)
	if err := showStored(ctx, stdout, env.brokers, topic); err != nil {
		return errors.Join(produceErr, err)
	}
	result, verifyErr := verifyAll(ctx, log, env, topic, resources, sent)
	elapsed := time.Since(began)

	summary := fmt.Sprintf("quickstart: %d records, %s, %s, %d mismatches",
		len(resources), cli.FormatBytes(result.bytes), elapsed.Round(time.Millisecond), result.mismatches)
	if result.missing > 0 {
		summary += fmt.Sprintf(", %d missing", result.missing)
	}
	fmt.Fprintln(stdout, summary)

	return errors.Join(produceErr, verifyErr, result.err())
}
