package cli_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/examples/internal/cli"
	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/kms"
)

func TestBrokers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"127.0.0.1:9092", []string{"127.0.0.1:9092"}},
		{" a:1, b:2 ,,", []string{"a:1", "b:2"}},
	}
	for _, tc := range tests {
		got, err := cli.Brokers(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Brokers(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", " , "} {
		if _, err := cli.Brokers(in); err == nil {
			t.Errorf("Brokers(%q) err = nil, want an error", in)
		}
	}
}

func TestOpenKEK(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kek.json")

	k, err := cli.OpenKEK(ctx, path, "", "default", true)
	if err != nil || k.Name() != "default" {
		t.Fatalf("OpenKEK(file) = %v, %v, want KEK default", k, err)
	}
	k, err = cli.OpenKEK(ctx, "", "keyfile://"+path, "default", true)
	if err != nil || k.Name() != "default" {
		t.Fatalf("OpenKEK(uri) = %v, %v, want KEK default", k, err)
	}
	if err := cli.CloseKEK(k); err != nil {
		t.Errorf("CloseKEK err = %v", err)
	}
}

func TestOpenKEKInvalid(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kek.json")
	tests := []struct {
		name, file, uri, want string
	}{
		{"both", path, "keyfile://" + path, "not both"},
		{"neither", "", "", "missing KEK"},
		{"unknown scheme", "", "nope://key", "no backend registered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli.OpenKEK(ctx, tc.file, tc.uri, "default", true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("OpenKEK err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestOpenKEKSchemes(t *testing.T) {
	// Each backend that the examples import must have registered its
	// scheme, so a URI without a key fails in the backend, not in kms.Open.
	for _, uri := range []string{"aws-kms://", "gcp-kms://", "hcvault://", "tink-keyset://"} {
		_, err := cli.OpenKEK(context.Background(), "", uri, "default", true)
		if err == nil || strings.Contains(err.Error(), "no backend registered") {
			t.Errorf("OpenKEK(%q) err = %v, want a backend error", uri, err)
		}
		if !errors.Is(err, kms.ErrInvalidConfig) {
			t.Errorf("OpenKEK(%q) err = %v, want kms.ErrInvalidConfig", uri, err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{31_250, "31.2 kB"},
		{1_549_000, "1.5 MB"},
	}
	for _, tc := range tests {
		if got := cli.FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestNewRecord(t *testing.T) {
	res := fhir.Resource{Type: "Patient", PatientID: "p-1", JSON: []byte(`{"resourceType":"Patient","id":"p-1"}`)}
	r := cli.NewRecord("fhir.r4", res)
	if r.Topic != "fhir.r4" || string(r.Key) != "p-1" || string(r.Value) != string(res.JSON) {
		t.Errorf("NewRecord = topic %q key %q value %q, want fhir.r4, p-1 and the resource", r.Topic, r.Key, r.Value)
	}
	if len(r.Headers) != 1 || r.Headers[0].Key != "content-type" || string(r.Headers[0].Value) != cli.ContentType {
		t.Errorf("NewRecord headers = %v, want content-type %s", r.Headers, cli.ContentType)
	}
}

func TestLoadResourcesPatients(t *testing.T) {
	if _, err := cli.LoadResources("", 0); err == nil {
		t.Error("LoadResources(\"\", 0) err = nil, want an error")
	}
	rs, err := cli.LoadResources("", 2)
	if err != nil || len(rs) != 14 {
		t.Errorf("LoadResources(\"\", 2) = %d resources, %v, want 14", len(rs), err)
	}
}
