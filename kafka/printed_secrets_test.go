package kafka_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

// TestPrintedObjectsHoldNoSecrets prints every object a caller holds
// with each verb, together with the errors and logs of failure paths that
// TestFailurePathsLeakNoSecrets does not reach. The output must not contain
// the KEK bytes, the DEK, the record key or the record value.
func TestPrintedObjectsHoldNoSecrets(t *testing.T) {
	const value = "SECRET-VALUE-MRN-31337"
	key := []byte("SECRET-KEY-patient-99")
	e := newEnv(t, "fhir", "other")
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ring, err := keyring.New([]kms.KEK{e.kek}, keyring.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	p, err := kafka.NewProducer(e.client(), ring, kafka.KEK("patients"), kafka.WithProducerLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	produce(t, p, &kgo.Record{Topic: "fhir", Key: key, Value: []byte(value)})
	stored := e.raw("fhir", 1)[0]
	d, err := envelope.Parse(stored.Headers[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	dek, err := ring.DEK(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	dekBytes := dek.Bytes()

	// Failure paths: duplicate descriptor header, plain record, wrong KEK,
	// dead-letter topic missing.
	copyRaw(t, e, stored, "other", key, func(r *kgo.Record) { r.Headers = append(r.Headers, r.Headers[0]) })
	if err := e.client().ProduceSync(context.Background(), &kgo.Record{Topic: "other", Key: key, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	copyRaw(t, e, stored, "other", key, nil)
	wrong, _ := keyfile.FromBytes("patients", bytes.Repeat([]byte{9}, 32))
	wrongRing, _ := keyring.New([]kms.KEK{wrong}, keyring.WithLogger(logger))
	defer wrongRing.Close()
	cl := e.client(kgo.ConsumeTopics("other"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var errs []error
	c, err := kafka.NewConsumer(cl, wrongRing, kafka.WithConsumerLogger(logger),
		kafka.OnDecryptError(kafka.Skip(func(_ *kgo.Record, err error) { errs = append(errs, err) })))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pollN(t, c, 0)
	for len(errs) < 3 && err == nil {
		var more []kafka.Record
		more, err = c.Poll(t.Context())
		got = append(got, more...)
	}

	var all strings.Builder
	// The Producer and Consumer are left out: fmt walks into the kgo.Client
	// they share with franz-go goroutines, which the race detector reports.
	for _, v := range []any{ring, dek, *dek, d, stored.Headers} {
		fmt.Fprintf(&all, "%v %+v %#v %s %x\n", v, v, v, v, v)
	}
	for _, r := range got {
		fmt.Fprintf(&all, "%v %+v\n", r, r)
	}
	for _, err := range errs {
		fmt.Fprintf(&all, "%v %+v %#v\n", err, err, err)
	}
	all.WriteString(logs.String())
	text := all.String()
	secrets := map[string]string{
		"value": value, "record key": string(key), "record key hex": hex.EncodeToString(key),
		"DEK hex": hex.EncodeToString(dekBytes), "DEK base64": base64.StdEncoding.EncodeToString(dekBytes),
		"DEK raw": string(dekBytes), "KEK hex": hex.EncodeToString(bytes.Repeat([]byte{3}, 32)),
	}
	for name, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("printed objects, errors or logs contain the %s", name)
		}
	}
}
