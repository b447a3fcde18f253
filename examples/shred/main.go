// Shred walks through crypto-shredding one patient. It starts an
// in-process Kafka broker (franz-go's kfake on 127.0.0.1), a development
// KEK in a temporary key file and a key store on a compacted topic. It
// produces FHIR R4 resources under subject keys, one DEK per patient, and
// checks that every record decrypts. Then it purges one patient:
// quarantine, shred, verification and an evidence document. In a second
// consumer process the patient's records now fail with "key shredded",
// while every other patient's records still decrypt. If the patient
// returns, a new DEK seals their new records. Last, compaction removes the
// shredded wrapped key from the store.
//
// Usage:
//
//	go run ./examples/shred [-fhir DIR] [-patients N] [-shred ID] [-v]
//
// -fhir reads every *.json file in DIR as a FHIR Bundle; without it the
// program generates -patients synthetic patients (default 5). -shred names
// the patient id to purge; by default the first patient loaded.
//
// The last line on standard output is "shred: ok" or "shred: FAILED". The
// exit status is 1 when any record of the shredded patient still
// decrypts, any other record fails, verification, the audit chain or the
// evidence chain fails, or on any error; 2 for invalid flags. Output and
// logs name patients by their position in the input and DEKs by id, never
// by patient id.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/kenvelope/kenvelope/examples/internal/cli"
)

const (
	defaultPatients = 5
	runTimeout      = 2 * time.Minute
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the program with the given arguments and outputs and returns
// its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("shred", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var cfg config
	flags.StringVar(&cfg.dir, "fhir", "", "directory of FHIR R4 bundle *.json files (default: generated patients)")
	flags.IntVar(&cfg.patients, "patients", defaultPatients, "number of synthetic patients to generate without -fhir")
	flags.StringVar(&cfg.shred, "shred", "", "patient id to purge (default: the first patient loaded)")
	flags.StringVar(&cfg.topic, "topic", "fhir.r4", "topic to produce to and consume from")
	verbose := flags.Bool("v", false, "log debug messages")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "shred: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	log := cli.NewLogger(stderr, *verbose)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()

	if err := walkThrough(ctx, log, stdout, cfg); err != nil {
		log.Error("shred failed", "error", err)
		fmt.Fprintln(stdout, "shred: FAILED")
		return 1
	}
	fmt.Fprintln(stdout, "shred: ok")
	return 0
}
