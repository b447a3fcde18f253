package kms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// meterName is the instrumentation scope of the instruments that Metrics
// creates.
const meterName = "github.com/kenvelope/kenvelope/kms"

// durationBuckets are the histogram bucket boundaries of
// kenvelope.kms.duration, in seconds. They run from 5 ms, below which a
// local KEK such as a key file returns, to 10 s, the default
// RetryPolicy.AttemptTimeout of one attempt.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Operation attribute values, indexed by the op* constants.
const (
	opWrap = iota
	opUnwrap
	opVersion
	numOps
)

var opNames = [numOps]string{opWrap: "wrap", opUnwrap: "unwrap", opVersion: "version"}

// kindOutcomes maps each sentinel kind to its outcome attribute value.
var kindOutcomes = [...]struct {
	kind error
	name string
}{
	{ErrKeyNotFound, "key_not_found"},
	{ErrKeyDisabled, "key_disabled"},
	{ErrKeyDestroyed, "key_destroyed"},
	{ErrVersionTooOld, "version_too_old"},
	{ErrContextMismatch, "context_mismatch"},
	{ErrThrottled, "throttled"},
	{ErrUnavailable, "unavailable"},
	{ErrInvalidResponse, "invalid_response"},
	{ErrPermission, "permission_denied"},
	{ErrInvalidConfig, "invalid_config"},
}

// Outcome indexes: ok, the two context errors, one per entry of
// kindOutcomes, and a last one for any other error.
const (
	outcomeOK = iota
	outcomeCanceled
	outcomeDeadline
	outcomeFirstKind
	outcomeOther = outcomeFirstKind + len(kindOutcomes)
	numOutcomes  = outcomeOther + 1
)

func outcomeName(i int) string {
	switch {
	case i == outcomeOK:
		return "ok"
	case i == outcomeCanceled:
		return "canceled"
	case i == outcomeDeadline:
		return "deadline_exceeded"
	case i < outcomeOther:
		return kindOutcomes[i-outcomeFirstKind].name
	default:
		return "error"
	}
}

// outcomeIndex classifies err. Context errors come first, so that a call
// the caller gave up on does not count as a KMS failure even when the
// backend reports it as ErrUnavailable.
func outcomeIndex(err error) int {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, context.Canceled):
		return outcomeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return outcomeDeadline
	}
	for i, k := range kindOutcomes {
		if errors.Is(err, k.kind) {
			return outcomeFirstKind + i
		}
	}
	return outcomeOther
}

// Metrics returns a KEK that records every call to kek with the
// OpenTelemetry meter provider mp, and forwards the call unchanged. If kek
// implements Versioned, so does the result.
//
// It records two instruments, created once here:
//
//   - kenvelope.kms.calls, an Int64Counter in {call}: one per call.
//   - kenvelope.kms.duration, a Float64Histogram in s: the time the call
//     took, with bucket boundaries from 5 ms to 10 s.
//
// Both carry three attributes, and no other:
//
//   - kek: kek.Name(), the logical KEK name.
//   - operation: wrap, unwrap or version (PrimaryVersion).
//   - outcome: ok, or the class of the error. It is canceled or
//     deadline_exceeded when the error wraps that context error. Else it
//     is the kind of the *Error: key_not_found, key_disabled,
//     key_destroyed, version_too_old, context_mismatch, throttled,
//     unavailable, invalid_response, permission_denied or invalid_config.
//     Any other error is error.
//
// Attributes never carry backend key ids, key bytes, encryption contexts
// or error text. Metrics(Retry(kek, p), mp) records each call once, with
// its final outcome, and Retry(Metrics(kek, mp), p) records each attempt.
//
// A nil mp is an error, not the global provider: pass
// go.opentelemetry.io/otel/metric/noop.NewMeterProvider() to record
// nothing. Metrics returns an error wrapping ErrInvalidConfig when kek or
// mp is nil or the provider fails to create an instrument.
func Metrics(kek KEK, mp metric.MeterProvider) (KEK, error) {
	if kek == nil {
		return nil, fmt.Errorf("kms: Metrics with a nil KEK: %w", ErrInvalidConfig)
	}
	if mp == nil {
		return nil, fmt.Errorf("kms: Metrics with a nil MeterProvider is invalid, pass noop.NewMeterProvider() to record nothing: %w", ErrInvalidConfig)
	}
	m, err := newMetricsKEK(kek, mp.Meter(meterName))
	if err != nil {
		return nil, fmt.Errorf("kms: Metrics for KEK %q: %w: %w", kek.Name(), ErrInvalidConfig, err)
	}
	if v, ok := kek.(Versioned); ok {
		return &metricsVersioned{metricsKEK: m, v: v}, nil
	}
	return m, nil
}

// measureOpts are the options of one attribute set, built once so that
// recording allocates nothing for the set.
type measureOpts struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

type metricsKEK struct {
	kek      KEK
	calls    metric.Int64Counter
	duration metric.Float64Histogram
	opts     [numOps][numOutcomes]measureOpts
}

func newMetricsKEK(kek KEK, meter metric.Meter) (*metricsKEK, error) {
	calls, err := meter.Int64Counter("kenvelope.kms.calls",
		metric.WithUnit("{call}"),
		metric.WithDescription("KMS calls made through a KEK, by operation and outcome."))
	if err != nil {
		return nil, err
	}
	duration, err := meter.Float64Histogram("kenvelope.kms.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of KMS calls made through a KEK, by operation and outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		return nil, err
	}

	m := &metricsKEK{kek: kek, calls: calls, duration: duration}
	name := kek.Name()
	for op := range numOps {
		for outcome := range numOutcomes {
			set := attribute.NewSet(
				attribute.String("kek", name),
				attribute.String("operation", opNames[op]),
				attribute.String("outcome", outcomeName(outcome)))
			opt := metric.WithAttributeSet(set)
			m.opts[op][outcome] = measureOpts{add: []metric.AddOption{opt}, record: []metric.RecordOption{opt}}
		}
	}
	return m, nil
}

// observe records one call of op that began at start and ended with err.
func (m *metricsKEK) observe(ctx context.Context, op int, start time.Time, err error) {
	opts := &m.opts[op][outcomeIndex(err)]
	m.calls.Add(ctx, 1, opts.add...)
	m.duration.Record(ctx, time.Since(start).Seconds(), opts.record...)
}

func (m *metricsKEK) Name() string { return m.kek.Name() }

func (m *metricsKEK) Wrap(ctx context.Context, dek []byte, ec EncryptionContext) (Wrapped, error) {
	start := time.Now()
	w, err := m.kek.Wrap(ctx, dek, ec)
	m.observe(ctx, opWrap, start, err)
	return w, err
}

func (m *metricsKEK) Unwrap(ctx context.Context, w Wrapped, ec EncryptionContext) ([]byte, error) {
	start := time.Now()
	dek, err := m.kek.Unwrap(ctx, w, ec)
	m.observe(ctx, opUnwrap, start, err)
	return dek, err
}

type metricsVersioned struct {
	*metricsKEK
	v Versioned
}

func (m *metricsVersioned) PrimaryVersion(ctx context.Context) (uint32, error) {
	start := time.Now()
	version, err := m.v.PrimaryVersion(ctx)
	m.observe(ctx, opVersion, start, err)
	return version, err
}
