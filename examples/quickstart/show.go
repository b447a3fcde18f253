package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
)

// showTimeout bounds the wait for the first stored record.
const showTimeout = 10 * time.Second

// showStored reads one record back with a plain franz-go client, which
// does not decrypt, and prints it as any broker, mirror or backup stores it.
// It prints the key's length but not the key, because the key is a
// patient id.
func showStored(ctx context.Context, w io.Writer, brokers []string, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, showTimeout)
	defer cancel()

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return fmt.Errorf("create plain consumer client: %w", err)
	}
	defer client.Close()

	var r *kgo.Record
	for r == nil {
		fetches := client.PollRecords(ctx, 1)
		if ctx.Err() != nil {
			return fmt.Errorf("read one stored record: %w", ctx.Err())
		}
		if rs := fetches.Records(); len(rs) > 0 {
			r = rs[0]
		}
	}
	return printStored(w, r)
}

func printStored(w io.Writer, r *kgo.Record) error {
	if isFieldsRecord(r) {
		return printFieldsRecord(w, r)
	}
	fmt.Fprintf(w, "One record as the broker stores it (topic %s, partition %d, offset %d):\n", r.Topic, r.Partition, r.Offset)
	fmt.Fprintf(w, "  key        %d bytes, in clear text (the patient id)\n", len(r.Key))

	var desc []byte
	for _, h := range r.Headers {
		if h.Key == envelope.HeaderName {
			desc = h.Value
			fmt.Fprintf(w, "  header     %s: %s (%d bytes, the descriptor)\n", h.Key, shortHex(h.Value), len(h.Value))
			continue
		}
		fmt.Fprintf(w, "  header     %s: %q\n", h.Key, h.Value)
	}
	fmt.Fprintf(w, "  value      %s (%d bytes: 4-byte binding check, 12-byte nonce, ciphertext, 16-byte tag)\n",
		shortHex(r.Value), len(r.Value))
	if desc == nil {
		return fmt.Errorf("stored record at partition %d offset %d has no %s header", r.Partition, r.Offset, envelope.HeaderName)
	}

	d, err := envelope.Parse(desc)
	if err != nil {
		return fmt.Errorf("parse stored descriptor: %w", err)
	}
	fmt.Fprintln(w, "Its descriptor:")
	fmt.Fprintf(w, "  KEK        %s version %d\n", d.KEKName, d.KEKVersion)
	fmt.Fprintf(w, "  scope      %s\n", scopeName(d.Scope))
	fmt.Fprintf(w, "  algorithm  %s, payload %s\n", algorithmName(d.Algorithm), payloadName(d.Payload))
	fmt.Fprintf(w, "  EDEK       %d bytes (the record's data key, wrapped by the KEK)\n", len(d.KeyRef))
	return nil
}

// shortHex returns the hex of the first bytes of b, and of its last bytes
// after "..." when b is longer.
func shortHex(b []byte) string {
	const head, tail = 16, 4
	if len(b) <= head+tail {
		return hex.EncodeToString(b)
	}
	return hex.EncodeToString(b[:head]) + "..." + hex.EncodeToString(b[len(b)-tail:])
}

func scopeName(s envelope.Scope) string {
	switch s {
	case envelope.ScopeStream:
		return "stream (the EDEK travels in the record)"
	case envelope.ScopeSubject:
		return "subject (the record names a DEK in a key store)"
	}
	return fmt.Sprintf("unknown (%d)", s)
}

func algorithmName(a envelope.Algorithm) string {
	if a == envelope.AES256GCM {
		return "AES-256-GCM"
	}
	return fmt.Sprintf("unknown (%d)", a)
}

func payloadName(p envelope.Payload) string {
	if p == envelope.PayloadValue {
		return "whole value"
	}
	return fmt.Sprintf("kind %d", p)
}
