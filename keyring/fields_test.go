package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
)

func TestReserveSharesOneDEK(t *testing.T) {
	ctx := context.Background()
	r := newRing(t, []kms.KEK{newKEK(t, "k")}, keyring.MaxRecords(5))
	a, err := r.Reserve(ctx, "k", 3, 100)
	if err != nil {
		t.Fatalf("Reserve(3) err = %v", err)
	}
	b, err := r.Reserve(ctx, "k", 2, 100)
	if err != nil {
		t.Fatalf("Reserve(2) err = %v", err)
	}
	if a.DEK() != b.DEK() {
		t.Error("Reserve(2) within the limit returned another DEK")
	}
	c, err := r.Reserve(ctx, "k", 1, 1)
	if err != nil {
		t.Fatalf("Reserve(1) err = %v", err)
	}
	if c.DEK() == a.DEK() {
		t.Error("Reserve past MaxRecords returned the exhausted DEK")
	}
}

func TestReserveDescriptors(t *testing.T) {
	ctx := context.Background()
	r := newRing(t, []kms.KEK{newKEK(t, "k")})
	res, err := r.Reserve(ctx, "k", 0, 0)
	if err != nil {
		t.Fatalf("Reserve(0) err = %v", err)
	}
	for _, p := range []envelope.Payload{envelope.PayloadValue, envelope.PayloadJSON, envelope.PayloadHeader} {
		d, err := envelope.Parse(res.Descriptor(p))
		if err != nil || d.Payload != p || d.KEKName != "k" {
			t.Errorf("Descriptor(%d) = %+v, err %v; want payload %d of KEK k", p, d, err, p)
		}
	}
	// What the reserved DEK seals, the ring opens through the descriptor.
	desc := res.Descriptor(envelope.PayloadJSON)
	sealed := res.DEK().Seal(nil, []byte("field"), desc, binding)
	d, _ := envelope.Parse(desc)
	got, err := r.Open(ctx, d, desc, nil, sealed, binding)
	if err != nil || !bytes.Equal(got, []byte("field")) {
		t.Errorf("Open() = %q, err %v; want field", got, err)
	}
}

func TestReserveErrors(t *testing.T) {
	ctx := context.Background()
	r := newRing(t, []kms.KEK{newKEK(t, "k")}, keyring.MaxRecords(5))
	if _, err := r.Reserve(ctx, "nope", 1, 1); !errors.Is(err, keyring.ErrUnknownKEK) {
		t.Errorf("Reserve(unknown KEK) err = %v, want ErrUnknownKEK", err)
	}
	if _, err := r.Reserve(ctx, "k", 6, 1); err == nil {
		t.Error("Reserve(more than MaxRecords) err = nil, want an error")
	}
	if _, err := r.Reserve(ctx, "k", -1, 0); err == nil {
		t.Error("Reserve(-1) err = nil, want an error")
	}
	r.Close()
	if _, err := r.Reserve(ctx, "k", 1, 1); !errors.Is(err, keyring.ErrClosed) {
		t.Errorf("Reserve after Close err = %v, want ErrClosed", err)
	}
}
