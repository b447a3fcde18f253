// Package cli holds what the example programs share: logging, KEK and
// broker flags, loading resources and turning them into records.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"

	// Imported for their kms.Register call, so that -kek accepts their
	// key URI schemes (aws-kms, gcp-kms, hcvault, tink-keyset).
	_ "github.com/kenvelope/kenvelope/kms/awskms"
	_ "github.com/kenvelope/kenvelope/kms/gcpkms"
	_ "github.com/kenvelope/kenvelope/kms/tinkkms"
	_ "github.com/kenvelope/kenvelope/kms/vaulttransit"
)

// ContentType is the value of the content-type header on every record the
// examples produce. It stays readable on the broker, like every header
// other than the descriptor.
const ContentType = "application/fhir+json"

// NewLogger returns a text logger writing to w at level Info, or Debug when
// verbose is set.
func NewLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// Brokers splits a comma-separated list of host:port seed brokers.
func Brokers(list string) ([]string, error) {
	var out []string
	for b := range strings.SplitSeq(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("missing -brokers: set it to host:port[,host:port...]")
	}
	return out, nil
}

// OpenKEK opens the KEK that exactly one of file (a keyfile path, created
// when missing if create is true) or uri (a key URI of any registered
// scheme) names, with the logical name recorded in descriptors. Call
// CloseKEK when done.
func OpenKEK(ctx context.Context, file, uri, name string, create bool) (kms.KEK, error) {
	switch {
	case file != "" && uri != "":
		return nil, errors.New("set -kek-file or -kek, not both")
	case file != "":
		k, err := keyfile.Open(file, name, keyfile.CreateMissing(create))
		if err != nil {
			return nil, err
		}
		return k, nil
	case uri != "":
		return kms.Open(ctx, name, uri)
	default:
		return nil, errors.New("missing KEK: set -kek-file PATH or -kek URI")
	}
}

// CloseKEK releases the client of a KEK that owns one, such as a Cloud KMS
// KEK from kms.Open.
func CloseKEK(k kms.KEK) error {
	if c, ok := k.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// LoadResources returns the resources of every bundle in dir, or of
// patients generated patients when dir is empty.
func LoadResources(dir string, patients int) ([]fhir.Resource, error) {
	if dir != "" {
		return fhir.LoadDir(dir)
	}
	if patients < 1 {
		return nil, fmt.Errorf("-patients is %d, want at least 1", patients)
	}
	return fhir.Generate(patients)
}

// NewRecord returns the record for r on topic: keyed by the patient id,
// with the resource's JSON as its value. The key travels in clear text
// (Kafka partitions by it), so in production it is a pseudonymous id, not
// a medical record number.
func NewRecord(topic string, r fhir.Resource) *kgo.Record {
	return &kgo.Record{
		Topic:   topic,
		Key:     []byte(r.PatientID),
		Value:   r.JSON,
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte(ContentType)}},
	}
}

// FormatBytes returns n as a decimal size, such as "812 B", "31.2 kB" or
// "1.6 MB".
func FormatBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
}
