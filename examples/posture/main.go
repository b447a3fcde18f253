// Command posture checks a Kafka cluster against kenvelope's security
// baseline for PHI (see package kafka/posture) and prints each finding as a
// table, or as JSON with -json.
//
// It connects with the same options kenvelope clients use: TLS by default,
// mutual TLS with -cert and -key, SASL SCRAM-SHA-512 with -sasl-mechanism,
// -sasl-user and a password from -sasl-password-file or the
// KENVELOPE_SASL_PASSWORD environment variable. The client needs DESCRIBE
// and DESCRIBE_CONFIGS on the cluster and DESCRIBE_CONFIGS on the topics.
//
// Exit status: 0 when no high-severity check fails, 1 when one does (or,
// with -strict, when a high-severity setting is unknown), 2 when the
// command line is invalid or the cluster cannot be read.
//
//	posture -brokers kafka-1:9093 -ca ca.pem -cert client.pem -key client-key.pem \
//	    -sasl-mechanism SCRAM-SHA-512 -sasl-user auditor -sasl-password-file pw -phi-topics '^phi\.'
package main

import (
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

type flags struct {
	brokers, ca, cert, key, serverName string
	mechanism, user, passwordFile      string
	plaintext, insecure, json, strict  bool
	phi                                string
	timeout                            time.Duration
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
	fs.BoolVar(&f.strict, "strict", false, "also exit 1 when a high-severity setting is unknown")
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
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "posture:", err)
		return 2
	}
	report, err := check(ctx, f, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintln(stderr, "posture:", err)
		return 2
	}

	if f.json {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "posture: write report:", err)
		return 2
	}
	if len(report.Failures(posture.High)) > 0 || f.strict && unknownHigh(report) {
		return 1
	}
	return 0
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
