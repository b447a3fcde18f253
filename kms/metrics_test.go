package kms_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// collected is what a ManualReader exported, by instrument name and then
// by encoded attribute set ("kek=a,operation=wrap,outcome=ok"): the sum of
// a counter, or the count of a histogram.
type collected map[string]map[string]int64

// collect reads every instrument of r, and fails the test on an
// aggregation the kms package does not use.
func collect(t *testing.T, r *sdkmetric.ManualReader) (collected, []metricdata.Metrics) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect(ctx) err = %v", err)
	}
	out := collected{}
	var all []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			all = append(all, m)
			points := map[string]int64{}
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] += int64(p.Count)
				}
			default:
				t.Fatalf("instrument %s has aggregation %T, want Sum[int64] or Histogram[float64]", m.Name, m.Data)
			}
			out[m.Name] = points
		}
	}
	return out, all
}

// checkOnly fails the test unless both instruments recorded exactly one
// call, under attrs.
func checkOnly(t *testing.T, got collected, attrs string) {
	t.Helper()
	for _, name := range []string{"kenvelope.kms.calls", "kenvelope.kms.duration"} {
		want := map[string]int64{attrs: 1}
		if !mapsEqual(got[name], want) {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func newReader() (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	r := sdkmetric.NewManualReader()
	return r, sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
}

func newKeyfile(t *testing.T) *keyfile.KEK {
	t.Helper()
	kek, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// failingKEK returns err from every Wrap. It is a test double for errors
// that neither keyfile nor kmstest.Faulty produce: a backend returning the
// caller's context error, or an error that is no *kms.Error.
type failingKEK struct {
	kms.KEK
	err error
}

func (f failingKEK) Wrap(context.Context, []byte, kms.EncryptionContext) (kms.Wrapped, error) {
	return kms.Wrapped{}, f.err
}

var topicEC = kms.EncryptionContext{"topic": "lab-results"}

// call is one request through a KEK made by Metrics.
type call func(ctx context.Context, k kms.KEK) error

func wrap(ctx context.Context, k kms.KEK) error {
	_, err := k.Wrap(ctx, bytes.Repeat([]byte{1}, 32), topicEC)
	return err
}

func primaryVersion(ctx context.Context, k kms.KEK) error {
	_, err := k.(kms.Versioned).PrimaryVersion(ctx)
	return err
}

// unwrapAs wraps a key with the real KEK under topicEC, applies change to
// that KEK, then unwraps under ec through the measured KEK. Only the
// unwrap is measured.
func unwrapAs(real *keyfile.KEK, ec kms.EncryptionContext, change func(*keyfile.KEK) error) func(*testing.T) call {
	return func(t *testing.T) call {
		w, err := real.Wrap(context.Background(), bytes.Repeat([]byte{1}, 32), topicEC)
		if err != nil {
			t.Fatal(err)
		}
		if err := change(real); err != nil {
			t.Fatal(err)
		}
		return func(ctx context.Context, k kms.KEK) error {
			_, err := k.Unwrap(ctx, w, ec)
			return err
		}
	}
}

func TestMetricsOutcomeFromRealKEK(t *testing.T) {
	none := func(*keyfile.KEK) error { return nil }
	tests := []struct {
		name    string
		prepare func(real *keyfile.KEK) func(*testing.T) call
		attrs   string
	}{
		{"wrap ok", func(*keyfile.KEK) func(*testing.T) call {
			return func(*testing.T) call { return wrap }
		}, "kek=patients,operation=wrap,outcome=ok"},
		{"version ok", func(*keyfile.KEK) func(*testing.T) call {
			return func(*testing.T) call { return primaryVersion }
		}, "kek=patients,operation=version,outcome=ok"},
		{"unwrap ok", func(k *keyfile.KEK) func(*testing.T) call {
			return unwrapAs(k, topicEC, none)
		}, "kek=patients,operation=unwrap,outcome=ok"},
		{"context mismatch", func(k *keyfile.KEK) func(*testing.T) call {
			return unwrapAs(k, kms.EncryptionContext{"topic": "other"}, none)
		}, "kek=patients,operation=unwrap,outcome=context_mismatch"},
		{"key destroyed", func(k *keyfile.KEK) func(*testing.T) call {
			return unwrapAs(k, topicEC, func(k *keyfile.KEK) error { return k.Destroy(1) })
		}, "kek=patients,operation=unwrap,outcome=key_destroyed"},
		{"key disabled", func(k *keyfile.KEK) func(*testing.T) call {
			return unwrapAs(k, topicEC, func(k *keyfile.KEK) error { return k.Disable(1) })
		}, "kek=patients,operation=unwrap,outcome=key_disabled"},
		{"version too old", func(k *keyfile.KEK) func(*testing.T) call {
			return unwrapAs(k, topicEC, func(k *keyfile.KEK) error {
				if _, err := k.Rotate(); err != nil {
					return err
				}
				return k.SetMinVersion(2)
			})
		}, "kek=patients,operation=unwrap,outcome=version_too_old"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			real := newKeyfile(t)
			do := tc.prepare(real)(t)
			reader, mp := newReader()
			k, err := kms.Metrics(real, mp)
			if err != nil {
				t.Fatalf("Metrics() err = %v, want nil", err)
			}
			_ = do(context.Background(), k)
			got, _ := collect(t, reader)
			checkOnly(t, got, tc.attrs)
		})
	}
}

func TestMetricsOutcomeFromKind(t *testing.T) {
	tests := []struct {
		kind    error
		outcome string
	}{
		{kms.ErrKeyNotFound, "key_not_found"},
		{kms.ErrThrottled, "throttled"},
		{kms.ErrUnavailable, "unavailable"},
		{kms.ErrInvalidResponse, "invalid_response"},
		{kms.ErrPermission, "permission_denied"},
		{kms.ErrInvalidConfig, "invalid_config"},
	}
	for _, tc := range tests {
		t.Run(tc.outcome, func(t *testing.T) {
			// Faulty injects the kinds that a key file cannot produce.
			faulty := kmstest.NewFaulty(newKeyfile(t))
			faulty.Fail(tc.kind, 1)
			reader, mp := newReader()
			k, err := kms.Metrics(faulty, mp)
			if err != nil {
				t.Fatalf("Metrics() err = %v, want nil", err)
			}
			if err := wrap(context.Background(), k); !errors.Is(err, tc.kind) {
				t.Fatalf("Wrap(ctx) err = %v, want %v", err, tc.kind)
			}
			got, _ := collect(t, reader)
			checkOnly(t, got, "kek=patients,operation=wrap,outcome="+tc.outcome)
		})
	}
}

func TestMetricsOutcomeFromOtherError(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		err     error
		outcome string
	}{
		{"canceled", canceled.Err(), "canceled"},
		{"deadline", context.DeadlineExceeded, "deadline_exceeded"},
		// A GCP-style error: a retryable kind whose cause is the
		// caller's context error counts as the context error.
		{"unavailable canceled", &kms.Error{Op: kms.OpWrap, KEK: "patients", Kind: kms.ErrUnavailable, Cause: context.Canceled}, "canceled"},
		{"plain", errors.New("secret-marker: backend exploded"), "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reader, mp := newReader()
			k, err := kms.Metrics(failingKEK{KEK: newKeyfile(t), err: tc.err}, mp)
			if err != nil {
				t.Fatalf("Metrics() err = %v, want nil", err)
			}
			if err := wrap(canceled, k); err != tc.err {
				t.Fatalf("Wrap(ctx) err = %v, want %v unchanged", err, tc.err)
			}
			got, _ := collect(t, reader)
			checkOnly(t, got, "kek=patients,operation=wrap,outcome="+tc.outcome)
		})
	}
}

func TestMetricsInstruments(t *testing.T) {
	reader, mp := newReader()
	k, err := kms.Metrics(newKeyfile(t), mp)
	if err != nil {
		t.Fatalf("Metrics() err = %v, want nil", err)
	}
	for range 3 {
		if err := wrap(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	got, all := collect(t, reader)
	want := map[string]int64{"kek=patients,operation=wrap,outcome=ok": 3}
	for _, name := range []string{"kenvelope.kms.calls", "kenvelope.kms.duration"} {
		if !mapsEqual(got[name], want) {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}

	units := map[string]string{"kenvelope.kms.calls": "{call}", "kenvelope.kms.duration": "s"}
	for _, m := range all {
		if m.Unit != units[m.Name] {
			t.Errorf("%s unit = %q, want %q", m.Name, m.Unit, units[m.Name])
		}
		if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
			bounds := h.DataPoints[0].Bounds
			if bounds[0] != 0.005 || bounds[len(bounds)-1] != 10 {
				t.Errorf("%s bounds = %v, want 0.005 to 10 seconds", m.Name, bounds)
			}
		}
	}
	if len(all) != 2 {
		t.Errorf("instruments = %d, want 2", len(all))
	}
}

// Metrics outside Retry records one call, and inside it records each
// attempt.
func TestMetricsAroundRetry(t *testing.T) {
	policy := kms.RetryPolicy{Attempts: 3, Initial: 1, Max: 1}
	build := map[string]func(kms.KEK, *sdkmetric.MeterProvider) (kms.KEK, error){
		"outside": func(k kms.KEK, mp *sdkmetric.MeterProvider) (kms.KEK, error) {
			return kms.Metrics(kms.Retry(k, policy), mp)
		},
		"inside": func(k kms.KEK, mp *sdkmetric.MeterProvider) (kms.KEK, error) {
			m, err := kms.Metrics(k, mp)
			return kms.Retry(m, policy), err
		},
	}
	want := map[string]map[string]int64{
		"outside": {"kek=patients,operation=wrap,outcome=ok": 1},
		"inside": {
			"kek=patients,operation=wrap,outcome=throttled": 2,
			"kek=patients,operation=wrap,outcome=ok":        1,
		},
	}
	for name, b := range build {
		t.Run(name, func(t *testing.T) {
			// Faulty injects throttling, which a key file cannot produce.
			faulty := kmstest.NewFaulty(newKeyfile(t))
			faulty.Fail(kms.ErrThrottled, 2)
			reader, mp := newReader()
			k, err := b(faulty, mp)
			if err != nil {
				t.Fatalf("Metrics() err = %v, want nil", err)
			}
			if err := wrap(context.Background(), k); err != nil {
				t.Fatalf("Wrap(ctx) err = %v, want nil after retries", err)
			}
			got, _ := collect(t, reader)
			if !mapsEqual(got["kenvelope.kms.calls"], want[name]) {
				t.Errorf("kenvelope.kms.calls = %v, want %v", got["kenvelope.kms.calls"], want[name])
			}
		})
	}
}

func TestMetricsKeepsVersioned(t *testing.T) {
	mp := noop.NewMeterProvider()
	versioned, err := kms.Metrics(newKeyfile(t), mp)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := versioned.(kms.Versioned); !ok {
		t.Error("Metrics(keyfile KEK) is not kms.Versioned, want Versioned kept")
	}
	// Embedding the kms.KEK interface hides PrimaryVersion of a real KEK.
	plain, err := kms.Metrics(struct{ kms.KEK }{newKeyfile(t)}, mp)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.(kms.Versioned); ok {
		t.Error("Metrics(plain KEK) is kms.Versioned, want only KEK")
	}
	if plain.Name() != "patients" {
		t.Errorf("Name() = %q, want patients", plain.Name())
	}
}

func TestMetricsNilArgument(t *testing.T) {
	if _, err := kms.Metrics(nil, noop.NewMeterProvider()); !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("Metrics(nil KEK) err = %v, want ErrInvalidConfig", err)
	}
	if _, err := kms.Metrics(newKeyfile(t), nil); !errors.Is(err, kms.ErrInvalidConfig) {
		t.Errorf("Metrics(nil provider) err = %v, want ErrInvalidConfig", err)
	}
}

func TestMetricsAttributesOnlyDocumented(t *testing.T) {
	reader, mp := newReader()
	k, err := kms.Metrics(failingKEK{KEK: newKeyfile(t), err: errors.New("secret-marker")}, mp)
	if err != nil {
		t.Fatal(err)
	}
	_ = wrap(context.Background(), k)
	_, _ = k.Unwrap(context.Background(), kms.Wrapped{Version: 1, Ciphertext: []byte("secret-marker")}, topicEC)
	_, all := collect(t, reader)
	allowed := []attribute.Key{"kek", "operation", "outcome"}
	for _, set := range attributeSets(all) {
		for _, kv := range set.ToSlice() {
			if !slices.Contains(allowed, kv.Key) {
				t.Errorf("attribute %q, want only %v", kv.Key, allowed)
			}
			if strings.Contains(kv.Value.String(), "secret-marker") {
				t.Errorf("attribute %q contains the error text or the wrapped key", kv.Key)
			}
		}
	}
}

// attributeSets returns the attribute set of every data point in ms.
func attributeSets(ms []metricdata.Metrics) []attribute.Set {
	var sets []attribute.Set
	for _, m := range ms {
		switch data := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range data.DataPoints {
				sets = append(sets, p.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, p := range data.DataPoints {
				sets = append(sets, p.Attributes)
			}
		}
	}
	return sets
}

// With the no-op provider, Metrics adds no allocation to a call.
func TestMetricsNoopAllocations(t *testing.T) {
	real := newKeyfile(t)
	measured, err := kms.Metrics(real, noop.NewMeterProvider())
	if err != nil {
		t.Fatal(err)
	}
	w, err := real.Wrap(context.Background(), bytes.Repeat([]byte{1}, 32), topicEC)
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(k kms.KEK) float64 {
		return testing.AllocsPerRun(100, func() {
			if _, err := k.Unwrap(context.Background(), w, topicEC); err != nil {
				t.Fatal(err)
			}
		})
	}
	if base, got := allocs(real), allocs(measured); got != base {
		t.Errorf("Unwrap allocations = %v through Metrics(noop), want %v as without it", got, base)
	}
}
