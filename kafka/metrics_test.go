package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

// The documented attribute keys and values of kenvelope.producer.records
// and kenvelope.consumer.records.
var (
	documentedKeys     = []attribute.Key{"topic", "outcome", "reason"}
	documentedOutcomes = []string{"encrypted", "passed_through", "tombstone", "failed",
		"decrypted", "unencrypted", "skipped", "dead_lettered"}
	documentedReasons = []string{"too_large", "no_topic", "already_encrypted", "duplicate_header",
		"record_tag", "no_kek", "unknown_kek", "no_subject", "no_key_store", "store_stale", "quarantined",
		"shredded", "closed", "canceled", "deadline_exceeded", "kms", "other", "auth", "binding_mismatch",
		"invalid_descriptor", "short_value", "not_encrypted", "fields_without_descriptor",
		"headers_without_descriptor", "key_destroyed", "version_too_old", "unsupported_scope"}
)

// metricsEnv is one kfake broker shared by the cases of a test, each of
// which records to its own ManualReader.
type metricsEnv struct {
	t       *testing.T
	cluster *kfake.Cluster
}

func newMetricsEnv(t *testing.T, topics ...string) *metricsEnv {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &metricsEnv{t: t, cluster: c}
}

func (e *metricsEnv) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(e.cluster.ListenAddrs()...)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newKEK returns a key-file KEK named name with a fixed key, so that KEKs
// of one name built in one test unwrap each other's keys.
func newKEK(t *testing.T, name string) *keyfile.KEK {
	t.Helper()
	kek, err := keyfile.FromBytes(name, bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// newSubjectRing returns a ring over keks with an in-memory key store, so
// it serves stream and subject keys.
func newSubjectRing(t *testing.T, keks ...kms.KEK) *keyring.Ring {
	t.Helper()
	r, err := keyring.New(keks, keyring.WithKeyStore(keyring.NewMemoryStore()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func newMeter() (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	r := sdkmetric.NewManualReader()
	return r, sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
}

// collectRecords returns the data points of the counter name, keyed by the
// encoded attribute set ("outcome=failed,reason=no_topic,topic=fhir"), and
// the attribute sets of every data point of every instrument.
func collectRecords(t *testing.T, r *sdkmetric.ManualReader, name string) (map[string]int64, []attribute.Set) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect(ctx) err = %v", err)
	}
	points := map[string]int64{}
	var sets []attribute.Set
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("instrument %s has aggregation %T, want Sum[int64]", m.Name, m.Data)
			}
			if m.Unit != "{record}" {
				t.Errorf("instrument %s unit = %q, want {record}", m.Name, m.Unit)
			}
			for _, p := range sum.DataPoints {
				sets = append(sets, p.Attributes)
				if m.Name == name {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] += p.Value
				}
			}
		}
	}
	return points, sets
}

func checkPoints(t *testing.T, name string, got, want map[string]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", name, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", name, got, want)
			return
		}
	}
}

func descriptorHeader() kgo.RecordHeader {
	return kgo.RecordHeader{Key: envelope.HeaderName, Value: []byte{1}}
}

func TestProducerMetricsOutcome(t *testing.T) {
	e := newMetricsEnv(t, "fhir")
	type kit struct {
		kek  *keyfile.KEK
		ring *keyring.Ring
	}
	tests := []struct {
		name    string
		opts    []ProducerOpt
		prepare func(t *testing.T, k kit) kms.KEK // returns a KEK for a new ring, or nil to keep k.ring
		record  *kgo.Record
		want    string
	}{
		{name: "encrypted", record: &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte("v")},
			want: "outcome=encrypted,topic=fhir"},
		{name: "tombstone", record: &kgo.Record{Topic: "fhir", Key: []byte("p1")},
			want: "outcome=tombstone,topic=fhir"},
		{name: "passed through", opts: []ProducerOpt{PassThroughEncrypted()},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: []kgo.RecordHeader{descriptorHeader()}},
			want:   "outcome=passed_through,topic=fhir"},
		{name: "no topic", record: &kgo.Record{Value: []byte("v")},
			want: "outcome=failed,reason=no_topic,topic="},
		{name: "already encrypted",
			record: &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: []kgo.RecordHeader{descriptorHeader()}},
			want:   "outcome=failed,reason=already_encrypted,topic=fhir"},
		{name: "duplicate header",
			record: &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: []kgo.RecordHeader{descriptorHeader(), descriptorHeader()}},
			want:   "outcome=failed,reason=duplicate_header,topic=fhir"},
		{name: "too large", opts: []ProducerOpt{MaxRecordBytes(200)},
			record: &kgo.Record{Topic: "fhir", Value: make([]byte, 300)},
			want:   "outcome=failed,reason=too_large,topic=fhir"},
		{name: "no kek", opts: []ProducerOpt{KEK(""), TopicKEK("other", "patients")},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v")},
			want:   "outcome=failed,reason=no_kek,topic=fhir"},
		{name: "no kek with fields", opts: []ProducerOpt{KEK(""), TopicKEK("other", "patients"), EncryptHeaders("h")},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v")},
			want:   "outcome=failed,reason=no_kek,topic=fhir"},
		{name: "record tag", opts: []ProducerOpt{EncryptHeaders("h")},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: envelope.TagHeaderName}}},
			want:   "outcome=failed,reason=record_tag,topic=fhir"},
		{name: "no subject", opts: []ProducerOpt{SubjectKey()},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v")},
			want:   "outcome=failed,reason=no_subject,topic=fhir"},
		{name: "subject function error", opts: []ProducerOpt{SubjectFunc(func(*kgo.Record) ([]byte, error) {
			return nil, errors.New("no patient reference")
		})},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v")},
			want:   "outcome=failed,reason=other,topic=fhir"},
		{name: "quarantined", opts: []ProducerOpt{SubjectKey()},
			prepare: func(t *testing.T, k kit) kms.KEK {
				if err := k.ring.Quarantine(context.Background(), []byte("p1")); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			record: &kgo.Record{Topic: "fhir", Key: []byte("p1"), Value: []byte("v")},
			want:   "outcome=failed,reason=quarantined,topic=fhir"},
		{name: "key destroyed",
			prepare: func(t *testing.T, k kit) kms.KEK {
				if err := k.kek.Destroy(1); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v")},
			want:   "outcome=failed,reason=key_destroyed,topic=fhir"},
		{name: "closed",
			prepare: func(_ *testing.T, k kit) kms.KEK {
				k.ring.Close()
				return nil
			},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v")},
			want:   "outcome=failed,reason=closed,topic=fhir"},
		{name: "kms",
			prepare: func(_ *testing.T, k kit) kms.KEK {
				// Faulty injects a permission error, which a key file
				// cannot produce.
				f := kmstest.NewFaulty(k.kek)
				f.Fail(kms.ErrPermission, -1)
				return f
			},
			record: &kgo.Record{Topic: "fhir", Value: []byte("v")},
			want:   "outcome=failed,reason=kms,topic=fhir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := newKEK(t, "patients")
			k := kit{kek: kek, ring: newSubjectRing(t, kek)}
			if tc.prepare != nil {
				if replaced := tc.prepare(t, k); replaced != nil {
					k.ring = newSubjectRing(t, replaced)
				}
			}
			reader, mp := newMeter()
			opts := append([]ProducerOpt{KEK("patients"), WithProducerMeterProvider(mp)}, tc.opts...)
			p, err := NewProducer(e.client(t), k.ring, opts...)
			if err != nil {
				t.Fatalf("NewProducer() err = %v", err)
			}
			_ = p.ProduceSync(context.Background(), tc.record)
			got, _ := collectRecords(t, reader, "kenvelope.producer.records")
			checkPoints(t, "kenvelope.producer.records", got, map[string]int64{tc.want: 1})
		})
	}
}

func TestRecordReason(t *testing.T) {
	kmsErr := func(kind error) error { return &kms.Error{Op: kms.OpUnwrap, KEK: "patients", Kind: kind} }
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("keyring: %w", context.Canceled), "canceled"},
		{&kms.Error{Op: kms.OpWrap, KEK: "patients", Kind: kms.ErrUnavailable, Cause: context.DeadlineExceeded}, "deadline_exceeded"},
		{&RecordTooLargeError{PlainSize: 2, EncryptedSize: 3, Max: 1}, "too_large"},
		{&keyring.ValueTooLargeError{Size: 2, MaxBytes: 1}, "too_large"},
		{&keyring.UnknownKEKError{Name: "patients"}, "unknown_kek"},
		{keyring.ErrNoKeyStore, "no_key_store"},
		{keyring.ErrStoreStale, "store_stale"},
		{keyring.ErrClosed, "closed"},
		{&keyring.ShreddedError{DEKID: "00"}, "shredded"},
		{envelope.ErrBindingMismatch, "binding_mismatch"},
		{envelope.ErrAuth, "auth"},
		{envelope.ErrUnsupportedVersion, "invalid_descriptor"},
		{envelope.ErrShortValue, "short_value"},
		{kmsErr(kms.ErrKeyDestroyed), "key_destroyed"},
		{kmsErr(kms.ErrVersionTooOld), "version_too_old"},
		{kmsErr(kms.ErrKeyDisabled), "kms"},
		{errors.New("backend exploded"), "other"},
	}
	for _, tc := range tests {
		err := &RecordError{Op: "decrypt", Topic: "fhir", Err: tc.err}
		if got := recordReason(err); got != tc.want {
			t.Errorf("recordReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// consumerCase produces records to its own topic and consumes them.
type consumerCase struct {
	name    string
	produce func(t *testing.T, c *consumerKit)
	opts    []ConsumerOpt
	kek     func(t *testing.T, c *consumerKit) kms.KEK // the consumer ring's KEK, default c.kek
	records int                                        // records to poll
	want    map[string]int64
}

// consumerKit is what a consumer case works with: its topic, the KEK and
// ring the producer uses, and a client that writes records as given.
type consumerKit struct {
	e     *metricsEnv
	topic string
	kek   *keyfile.KEK
	ring  *keyring.Ring
	raw   *kgo.Client
}

func (c *consumerKit) encrypt(t *testing.T, opts []ProducerOpt, rs ...*kgo.Record) {
	t.Helper()
	opts = append([]ProducerOpt{KEK("patients")}, opts...)
	p, err := NewProducer(c.raw, c.ring, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		r.Topic = c.topic
	}
	if err := p.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatalf("ProduceSync() err = %v", err)
	}
}

// write produces rs unchanged to the case's topic, as a client without
// kenvelope or an attacker with broker access could.
func (c *consumerKit) write(t *testing.T, rs ...*kgo.Record) {
	t.Helper()
	for _, r := range rs {
		r.Topic = c.topic
	}
	if err := c.raw.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// stored returns the first record of topic as stored.
func (c *consumerKit) stored(t *testing.T, topic string) *kgo.Record {
	t.Helper()
	cl := c.e.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read stored record of %s: %v", topic, err)
		}
		if rs := fs.Records(); len(rs) > 0 {
			return rs[0]
		}
	}
}

func plainRecord(value string) *kgo.Record {
	return &kgo.Record{Key: []byte("p1"), Value: []byte(value)}
}

// consumerCases lists the cases of TestConsumerMetricsOutcome. The keys of
// want omit the topic attribute, which is the case's topic.
func consumerCases() []consumerCase {
	encryptOne := func(t *testing.T, c *consumerKit) { c.encrypt(t, nil, plainRecord("v")) }
	// copyEdited stores an encrypted record, then a copy of it with
	// edit applied: the copy fails and the original decrypts.
	copyEdited := func(edit func(r *kgo.Record)) func(t *testing.T, c *consumerKit) {
		return func(t *testing.T, c *consumerKit) {
			encryptOne(t, c)
			r := c.stored(t, c.topic)
			cp := &kgo.Record{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Headers: slices.Clone(r.Headers)}
			edit(cp)
			c.write(t, cp)
		}
	}
	return []consumerCase{
		{name: "decrypted", produce: encryptOne, records: 1,
			want: map[string]int64{"outcome=decrypted": 1}},
		{name: "tombstone", records: 1,
			produce: func(t *testing.T, c *consumerKit) { c.encrypt(t, nil, &kgo.Record{Key: []byte("p1")}) },
			want:    map[string]int64{"outcome=tombstone": 1}},
		{name: "unencrypted", opts: []ConsumerOpt{AllowUnencrypted()}, records: 1,
			produce: func(t *testing.T, c *consumerKit) { c.write(t, plainRecord("v")) },
			want:    map[string]int64{"outcome=unencrypted": 1}},
		{name: "not_encrypted", records: 1,
			produce: func(t *testing.T, c *consumerKit) { c.write(t, plainRecord("v")) },
			want:    map[string]int64{"outcome=failed,reason=not_encrypted": 1}},
		{name: "skipped", opts: []ConsumerOpt{OnDecryptError(Skip(nil))}, records: 1,
			produce: func(t *testing.T, c *consumerKit) {
				c.write(t, plainRecord("v"))
				encryptOne(t, c)
			},
			want: map[string]int64{"outcome=skipped,reason=not_encrypted": 1, "outcome=decrypted": 1}},
		{name: "dead_lettered", opts: []ConsumerOpt{OnDecryptError(DeadLetter("dlq"))}, records: 1,
			produce: func(t *testing.T, c *consumerKit) {
				c.write(t, plainRecord("v"))
				encryptOne(t, c)
			},
			want: map[string]int64{"outcome=dead_lettered,reason=not_encrypted": 1, "outcome=decrypted": 1}},
		{name: "auth", records: 2,
			produce: copyEdited(func(r *kgo.Record) { r.Value[len(r.Value)-1] ^= 1 }),
			want:    map[string]int64{"outcome=decrypted": 1, "outcome=failed,reason=auth": 1}},
		{name: "binding_mismatch", records: 2,
			produce: copyEdited(func(r *kgo.Record) { r.Key = []byte("p2") }),
			want:    map[string]int64{"outcome=decrypted": 1, "outcome=failed,reason=binding_mismatch": 1}},
		{name: "invalid_descriptor", records: 1,
			produce: func(t *testing.T, c *consumerKit) {
				c.write(t, &kgo.Record{Value: []byte("v"), Headers: []kgo.RecordHeader{descriptorHeader()}})
			},
			want: map[string]int64{"outcome=failed,reason=invalid_descriptor": 1}},
		{name: "shredded", records: 1,
			produce: func(t *testing.T, c *consumerKit) {
				c.encrypt(t, []ProducerOpt{SubjectKey()}, plainRecord("v"))
				if _, err := c.ring.Shred(context.Background(), []byte("p1")); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]int64{"outcome=failed,reason=shredded": 1}},
		{name: "key_destroyed", records: 1,
			produce: func(t *testing.T, c *consumerKit) {
				encryptOne(t, c)
				if err := c.kek.Destroy(1); err != nil {
					t.Fatal(err)
				}
			},
			// A new ring, because the producer's ring still caches the DEK.
			kek:  func(_ *testing.T, c *consumerKit) kms.KEK { return c.kek },
			want: map[string]int64{"outcome=failed,reason=key_destroyed": 1}},
		{name: "unknown_kek", produce: encryptOne, records: 1,
			kek:  func(t *testing.T, _ *consumerKit) kms.KEK { return newKEK(t, "other") },
			want: map[string]int64{"outcome=failed,reason=unknown_kek": 1}},
		// An error a retry may fix keeps the record whatever the policy,
		// so it counts as failed even under Skip.
		{name: "kms", produce: encryptOne, records: 1, opts: []ConsumerOpt{OnDecryptError(Skip(nil))},
			kek: func(_ *testing.T, c *consumerKit) kms.KEK {
				// Faulty injects an outage, which a key file cannot
				// produce.
				f := kmstest.NewFaulty(c.kek)
				f.Fail(kms.ErrUnavailable, -1)
				return f
			},
			want: map[string]int64{"outcome=failed,reason=kms": 1}},
	}
}

func TestConsumerMetricsOutcome(t *testing.T) {
	cases := consumerCases()
	topics := []string{"dlq"}
	for _, tc := range cases {
		topics = append(topics, tc.name)
	}
	e := newMetricsEnv(t, topics...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kek := newKEK(t, "patients")
			c := &consumerKit{e: e, topic: tc.name, kek: kek, ring: newSubjectRing(t, kek), raw: e.client(t)}
			tc.produce(t, c)

			ring := c.ring
			if tc.kek != nil {
				ring = newSubjectRing(t, tc.kek(t, c))
			}
			reader, mp := newMeter()
			cl := e.client(t, kgo.ConsumeTopics(tc.name), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			opts := append([]ConsumerOpt{WithConsumerMeterProvider(mp)}, tc.opts...)
			consumer, err := NewConsumer(cl, ring, opts...)
			if err != nil {
				t.Fatalf("NewConsumer() err = %v", err)
			}
			pollRecords(t, consumer, tc.records)

			want := map[string]int64{}
			for attrs, n := range tc.want {
				want[attrs+",topic="+tc.name] = n
			}
			got, _ := collectRecords(t, reader, "kenvelope.consumer.records")
			checkPoints(t, "kenvelope.consumer.records", got, want)
		})
	}
}

// pollRecords polls c until it returned n records or an error.
func pollRecords(t *testing.T, c *Consumer, n int) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []Record
	for len(out) < n {
		rs, err := c.Poll(ctx)
		out = append(out, rs...)
		if ctx.Err() != nil {
			t.Fatalf("Poll() got %d records of %d before the deadline", len(out), n)
		}
		if err != nil {
			break
		}
	}
	return out
}

// Records whose key, value and subject contain a marker, and errors whose
// text contains it, leave no trace in any attribute.
func TestMetricsAttributesOnlyDocumented(t *testing.T) {
	const marker = "PHI-MARKER-7f3a"
	e := newMetricsEnv(t, "fhir")
	kek := newKEK(t, "patients")
	ring := newSubjectRing(t, kek)
	reader, mp := newMeter()
	raw := e.client(t)
	key := []byte("Patient/" + marker)
	value := []byte(`{"name":"` + marker + `"}`)

	newProducer := func(opts ...ProducerOpt) *Producer {
		opts = append([]ProducerOpt{KEK("patients"), WithProducerMeterProvider(mp)}, opts...)
		p, err := NewProducer(raw, ring, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	_ = newProducer(SubjectKey()).ProduceSync(ctx, &kgo.Record{Topic: "fhir", Key: key, Value: value})
	_ = newProducer(MaxRecordBytes(100)).ProduceSync(ctx, &kgo.Record{Topic: "fhir", Key: key, Value: bytes.Repeat(value, 10)})
	failing := SubjectFunc(func(*kgo.Record) ([]byte, error) { return nil, errors.New(marker) })
	_ = newProducer(failing).ProduceSync(ctx, &kgo.Record{Topic: "fhir", Key: key, Value: value})
	if err := raw.ProduceSync(ctx, &kgo.Record{Topic: "fhir", Key: key, Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cl := e.client(t, kgo.ConsumeTopics("fhir"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	consumer, err := NewConsumer(cl, ring, WithConsumerMeterProvider(mp), OnDecryptError(Skip(nil)))
	if err != nil {
		t.Fatal(err)
	}
	pollRecords(t, consumer, 1)

	_, sets := collectRecords(t, reader, "")
	if len(sets) < 4 {
		t.Fatalf("collected %d attribute sets, want at least 4 (encrypted, two failed, decrypted or skipped)", len(sets))
	}
	for _, set := range sets {
		for _, kv := range set.ToSlice() {
			checkAttribute(t, kv, marker)
		}
	}
}

func checkAttribute(t *testing.T, kv attribute.KeyValue, marker string) {
	t.Helper()
	v := kv.Value.String()
	if !slices.Contains(documentedKeys, kv.Key) {
		t.Errorf("attribute key %q, want one of %v", kv.Key, documentedKeys)
	}
	if strings.Contains(v, marker) {
		t.Errorf("attribute %q contains record data or error text", kv.Key)
	}
	if kv.Key == "outcome" && !slices.Contains(documentedOutcomes, v) {
		t.Errorf("outcome %q, want one of %v", v, documentedOutcomes)
	}
	if kv.Key == "reason" && !slices.Contains(documentedReasons, v) {
		t.Errorf("reason %q, want one of %v", v, documentedReasons)
	}
}

// With the default no-op meter provider, counting adds no allocation to
// encrypting a record, under either key scope.
func TestProducerMetricsNoopAllocations(t *testing.T) {
	e := newMetricsEnv(t, "fhir")
	ring := newSubjectRing(t, newKEK(t, "patients"))
	value := make([]byte, 1024)
	for _, scope := range []struct {
		name string
		opts []ProducerOpt
	}{{"stream", nil}, {"subject", []ProducerOpt{SubjectKey()}}} {
		t.Run(scope.name, func(t *testing.T) {
			p, err := NewProducer(e.client(t), ring, append([]ProducerOpt{KEK("patients")}, scope.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			allocs := func(encrypt func(context.Context, *kgo.Record) error) float64 {
				return testing.AllocsPerRun(100, func() {
					r := &kgo.Record{Topic: "fhir", Key: []byte("Patient/1"), Value: value}
					if err := encrypt(context.Background(), r); err != nil {
						t.Fatal(err)
					}
				})
			}
			if base, counted := allocs(p.encrypt), allocs(p.encryptAndCount); counted != base {
				t.Errorf("allocations per record = %v with the no-op meter, want %v as without counting", counted, base)
			}
		})
	}
}

// With the default no-op meter provider, counting a consumed record
// allocates nothing.
func TestConsumerMetricsNoopAllocations(t *testing.T) {
	e := newMetricsEnv(t)
	c, err := NewConsumer(e.client(t), newSubjectRing(t, newKEK(t, "patients")))
	if err != nil {
		t.Fatal(err)
	}
	cause := &RecordError{Op: "decrypt", Topic: "fhir", Err: envelope.ErrAuth}
	allocs := testing.AllocsPerRun(100, func() {
		c.records.add(context.Background(), "fhir", outcomeDecrypted, nil)
		c.records.add(context.Background(), "fhir", outcomeFailed, cause)
	})
	if allocs != 0 {
		t.Errorf("allocations per counted record = %v with the no-op meter, want 0", allocs)
	}
}

func TestNewProducerNilMeterProvider(t *testing.T) {
	e := newMetricsEnv(t)
	ring := newSubjectRing(t, newKEK(t, "patients"))
	if _, err := NewProducer(e.client(t), ring, KEK("patients"), WithProducerMeterProvider(nil)); err == nil {
		t.Error("NewProducer(WithProducerMeterProvider(nil)) err = nil, want an error")
	}
	if _, err := NewConsumer(e.client(t), ring, WithConsumerMeterProvider(nil)); err == nil {
		t.Error("NewConsumer(WithConsumerMeterProvider(nil)) err = nil, want an error")
	}
}
