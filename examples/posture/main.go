// Command posture checks a Kafka cluster against kenvelope's security
// baseline for PHI (see package kafka/posture) and prints each finding as a
// table on standard output, or as JSON with -json. With -json-file it also
// writes the JSON report to a file, so one run gives both.
//
// It connects with the same options kenvelope clients use: TLS by default,
// mutual TLS with -cert and -key, SASL SCRAM-SHA-512 with -sasl-mechanism,
// -sasl-user and a password from -sasl-password-file or the
// KENVELOPE_SASL_PASSWORD environment variable. The principal needs the
// ACLs DESCRIBE and DESCRIBE_CONFIGS on the cluster, and DESCRIBE and
// DESCRIBE_CONFIGS on the PHI topics: without DESCRIBE on a topic the
// cluster hides it, and the check cannot report on it.
//
// Exit status:
//
//	0  every high-severity check passed or does not apply
//	1  a high-severity check failed
//	2  the command line is invalid, the cluster cannot be read, or the
//	   report cannot be written
//	3  no high-severity check failed, but one is unknown because the
//	   cluster did not report the setting or the principal may not read
//	   it. An unreadable cluster is not a pass. With -allow-unknown the
//	   command exits 0 in this case.
//
//	posture -brokers kafka-1:9093 -ca ca.pem -cert client.pem -key client-key.pem \
//	    -sasl-mechanism SCRAM-SHA-512 -sasl-user auditor -sasl-password-file pw -phi-topics '^phi\.'
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/kafka/posture"
)

// passwordEnv is read when -sasl-password-file is not given, so the
// password does not appear in the process list.
const passwordEnv = "KENVELOPE_SASL_PASSWORD"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses; see the command documentation.
const (
	exitPass        = 0
	exitHighFailure = 1
	exitError       = 2
	exitHighUnknown = 3
)

type flags struct {
	brokers, ca, cert, key, serverName      string
	mechanism, user, passwordFile           string
	plaintext, insecure, json, allowUnknown bool
	phi, jsonFile                           string
	timeout                                 time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("posture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "comma-separated seed brokers, host:port")
	fs.StringVar(&f.ca, "ca", "", "PEM bundle of CAs that broker certificates must chain to (default: system roots)")
	fs.StringVar(&f.cert, "cert", "", "PEM client certificate chain for mutual TLS")
	fs.StringVar(&f.key, "key", "", "PEM private key of -cert")
	fs.StringVar(&f.serverName, "server-name", "", "name broker certificates are verified against (default: each broker's host)")
	fs.StringVar(&f.mechanism, "sasl-mechanism", "", "SASL mechanism: SCRAM-SHA-512, or PLAIN with -insecure (default: no SASL)")
	fs.StringVar(&f.user, "sasl-user", "", "SASL user")
	fs.StringVar(&f.passwordFile, "sasl-password-file", "", "file that holds the SASL password (default: $"+passwordEnv+")")
	fs.BoolVar(&f.plaintext, "plaintext", false, "connect without TLS; requires -insecure")
	fs.BoolVar(&f.insecure, "insecure", false, "allow -plaintext and SASL PLAIN, for a local development broker only")
	fs.StringVar(&f.phi, "phi-topics", "", "regular expression that names PHI topics (default: every non-internal topic)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON instead of a table")
	fs.StringVar(&f.jsonFile, "json-file", "", "also write the report as JSON to this file, replacing it")
	fs.BoolVar(&f.allowUnknown, "allow-unknown", false, "exit 0 instead of 3 when no high-severity check fails but one is unknown")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "time limit for reading the cluster")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return f, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitPass
	}
	if err != nil {
		printError(stderr, err)
		return exitError
	}
	report, err := check(ctx, f, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		printError(stderr, err)
		return exitError
	}
	if err := writeReport(report, f, stdout); err != nil {
		printError(stderr, err)
		return exitError
	}
	return exitStatus(report, f.allowUnknown)
}

// printError prints err after the command name. Errors from package
// posture already start with "posture: ", the command's name too, so that
// prefix is not printed twice.
func printError(stderr io.Writer, err error) {
	fmt.Fprintln(stderr, "posture:", strings.TrimPrefix(err.Error(), "posture: "))
}

// writeReport writes the table or JSON to stdout, and the JSON to
// -json-file when it is set.
func writeReport(r *posture.Report, f *flags, stdout io.Writer) error {
	var err error
	if f.json {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteTable(stdout)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if f.jsonFile == "" {
		return nil
	}

	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	// The report lists the cluster's weaknesses, so a new file is readable
	// by its owner only. An existing file keeps its mode.
	if err := os.WriteFile(f.jsonFile, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("-json-file: %w", err)
	}
	return nil
}

func exitStatus(r *posture.Report, allowUnknown bool) int {
	switch {
	case len(r.Failures(posture.High)) > 0:
		return exitHighFailure
	case !allowUnknown && unknownHigh(r):
		return exitHighUnknown
	}
	return exitPass
}

func check(ctx context.Context, f *flags, logger *slog.Logger) (*posture.Report, error) {
	opts, err := secureOpts(f, logger)
	if err != nil {
		return nil, err
	}
	var checkOpts []posture.Opt
	if f.phi != "" {
		re, err := regexp.Compile(f.phi)
		if err != nil {
			return nil, fmt.Errorf("-phi-topics: %w", err)
		}
		checkOpts = append(checkOpts, posture.PHITopics(re))
	}

	kopts, err := kafka.SecureClientOpts(opts...)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(kopts, kgo.SeedBrokers(strings.Split(f.brokers, ",")...))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return posture.Check(ctx, kadm.NewClient(cl), checkOpts...)
}

// secureOpts maps the flags to kenvelope's client options.
func secureOpts(f *flags, logger *slog.Logger) ([]kafka.SecureOpt, error) {
	opts := []kafka.SecureOpt{kafka.WithSecureLogger(logger)}
	if f.ca != "" {
		opts = append(opts, kafka.CAFile(f.ca))
	}
	if f.serverName != "" {
		opts = append(opts, kafka.ServerName(f.serverName))
	}
	if f.cert != "" || f.key != "" {
		opts = append(opts, kafka.ClientCertFiles(f.cert, f.key))
	}
	if f.plaintext {
		opts = append(opts, kafka.DisableTLS())
	}
	if f.insecure {
		opts = append(opts, kafka.InsecureForLocalDevelopment())
	}
	if f.mechanism == "" && f.user == "" {
		return opts, nil
	}
	password, err := readPassword(f.passwordFile)
	if err != nil {
		return nil, err
	}
	return append(opts, kafka.SASL(f.mechanism, f.user, password)), nil
}

func readPassword(path string) (string, error) {
	if path == "" {
		return os.Getenv(passwordEnv), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("-sasl-password-file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func unknownHigh(r *posture.Report) bool {
	for _, f := range r.Findings {
		if f.Status == posture.Unknown && f.Severity == posture.High {
			return true
		}
	}
	return false
}
