package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
)

// With KeyTokens and SubjectKey together, the subject is the caller's
// key, not its token, so Shred of the original key reaches the records
// while the stored key is the token.
func TestKeyTokensSubjectShred(t *testing.T) {
	e := newSubjectFieldsEnv(t)
	e.codec = kafka.KeyTokens(sivTokens(t))
	e.produce("p1", "p2")
	stored := e.raw("fhir", 2)
	for i, r := range stored {
		if bytes.Equal(r.Key, []byte([]string{"p1", "p2"}[i])) {
			t.Errorf("stored record %d key = %q, want its token", i, r.Key)
		}
	}
	if bytes.Equal(descriptor(t, stored[0]).KeyRef, descriptor(t, stored[1]).KeyRef) {
		t.Fatal("two subjects share one DEK")
	}
	if _, err := e.ring.Shred(context.Background(), []byte("p1")); err != nil {
		t.Fatalf("Shred(p1) err = %v", err)
	}

	got, failed := e.consume(2)
	if err := failed[0]; !errors.Is(err, keyring.ErrShredded) {
		t.Errorf("record 0 (p1) err = %v, want ErrShredded", err)
	}
	rec, ok := got[1]
	if !ok {
		t.Fatalf("record 1 (p2) err = %v, want it decrypted", failed[1])
	}
	if string(rec.Key) != "p2" {
		t.Errorf("record 1 key = %q, want p2 recovered from its token", rec.Key)
	}
	if string(rec.Value) != patientJSON {
		t.Errorf("record 1 value = %s, want the produced value", rec.Value)
	}
}
