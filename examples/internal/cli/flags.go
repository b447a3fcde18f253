package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

// ClusterFlags are the flags that the producer and the consumer share: where
// the cluster is, which topic, and which KEK.
type ClusterFlags struct {
	Brokers string
	Topic   string
	KEKFile string
	KEKURI  string
	KEKName string
	TLS     bool
	Verbose bool

	// CreateKEKFile lets -kek-file create a missing key file. The producer
	// sets it; the consumer does not, so a mistyped path fails instead of
	// creating a new, unrelated KEK.
	CreateKEKFile bool
}

// Validate checks the flags that need no I/O: seed brokers and exactly one
// KEK source. Programs exit with status 2 when it fails.
func (f *ClusterFlags) Validate() error {
	if _, err := Brokers(f.Brokers); err != nil {
		return err
	}
	switch {
	case f.KEKFile != "" && f.KEKURI != "":
		return errors.New("set -kek-file or -kek, not both")
	case f.KEKFile == "" && f.KEKURI == "":
		return errors.New("missing KEK: set -kek-file PATH or -kek URI")
	}
	return nil
}

// Register defines the flags on fs.
func (f *ClusterFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Brokers, "brokers", "", "comma-separated seed brokers, `host:port`[,...] (required)")
	fs.StringVar(&f.Topic, "topic", "fhir.r4", "topic name")
	kekFileHelp := "development key file `path`, which must exist"
	if f.CreateKEKFile {
		kekFileHelp = "development key file `path`, created when missing"
	}
	fs.StringVar(&f.KEKFile, "kek-file", "", kekFileHelp)
	fs.StringVar(&f.KEKURI, "kek", "", "key `URI` of the KEK, such as aws-kms://... or keyfile:///abs/path")
	fs.StringVar(&f.KEKName, "kek-name", "default", "logical KEK `name` recorded in each record's descriptor")
	fs.BoolVar(&f.TLS, "tls", false, "connect with TLS, verifying brokers against the system roots")
	fs.BoolVar(&f.Verbose, "v", false, "log debug messages, franz-go's included")
}

// ClientOpts returns the franz-go options that connect to the brokers.
func (f *ClusterFlags) ClientOpts(log *slog.Logger) ([]kgo.Opt, error) {
	brokers, err := Brokers(f.Brokers)
	if err != nil {
		return nil, err
	}
	if f.Topic == "" {
		return nil, errors.New("-topic is empty")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.WithLogger(KgoLogger(log))}
	if f.TLS {
		// franz-go sets ServerName to each broker's host.
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	return opts, nil
}

// OpenRing opens the KEK that the flags name, wraps it in kms.Retry for
// transient KMS errors, and builds a keyring on it. The returned func
// closes the keyring and the KEK.
func (f *ClusterFlags) OpenRing(ctx context.Context, log *slog.Logger) (*keyring.Ring, func(), error) {
	kek, err := OpenKEK(ctx, f.KEKFile, f.KEKURI, f.KEKName, f.CreateKEKFile)
	if err != nil {
		return nil, nil, err
	}
	log.Info("KEK opened", "kek", kek.Name())

	ring, err := keyring.New([]kms.KEK{kms.Retry(kek, kms.RetryPolicy{})}, keyring.WithLogger(log))
	if err != nil {
		return nil, nil, errors.Join(err, CloseKEK(kek))
	}
	closeAll := func() {
		ring.Close()
		if err := CloseKEK(kek); err != nil {
			log.Warn("close KEK", "kek", kek.Name(), "error", err)
		}
	}
	return ring, closeAll, nil
}
