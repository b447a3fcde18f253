package tinkkms

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// dekSize is the length in bytes of the data keys that kenvelope wraps.
const dekSize = 32

// adDomain starts the associated data of every Wrap and Unwrap, so that a
// ciphertext made by the same AEAD for another purpose never unwraps as a
// data key. Changing it makes every existing wrapped key unreadable.
const adDomain = "kenvelope/kms/tinkkms/wrap/v1\x00"

var _ kms.Versioned = (*KEK)(nil)

// KEK is a kms.KEK backed by a Tink AEAD. It is safe for concurrent use,
// including calls to SetKeyset while Wrap and Unwrap run.
type KEK struct {
	name       string
	fromKeyset bool
	state      atomic.Pointer[state]
}

// state is one keyset (or one plain AEAD) that Wrap and Unwrap read as a
// whole, so the version that Wrap reports is always the key it used.
type state struct {
	aead    tink.AEAD
	ctxAEAD tink.AEADWithContext            // nil unless aead implements it
	primary uint32                          // primary key id, zero for a plain AEAD
	status  map[uint32]tinkpb.KeyStatusType // nil for a plain AEAD
}

// New returns a KEK named name that wraps data keys with a. Wrapped keys
// carry version zero and PrimaryVersion returns zero, because a plain AEAD
// does not report which key it uses. FromKeyset records key ids as
// versions. When a also implements tink.AEADWithContext, Wrap and Unwrap
// pass their context to it.
func New(name string, a tink.AEAD, opts ...Opt) (*KEK, error) {
	if _, err := newConfig(opts, false); err != nil {
		return nil, configError(name, err)
	}
	if err := checkName(name); err != nil {
		return nil, configError(name, err)
	}
	if a == nil {
		return nil, configError(name, errors.New("AEAD is nil"))
	}
	k := &KEK{name: name}
	k.state.Store(newState(a))
	return k, nil
}

// FromKeyset returns a KEK named name that wraps data keys with the
// primary key of the AEAD keyset h and records that key's id as the
// version. Unwrap accepts any enabled key of h.
func FromKeyset(name string, h *keyset.Handle, opts ...Opt) (*KEK, error) {
	if _, err := newConfig(opts, false); err != nil {
		return nil, configError(name, err)
	}
	return fromKeyset(name, h)
}

func fromKeyset(name string, h *keyset.Handle) (*KEK, error) {
	if err := checkName(name); err != nil {
		return nil, configError(name, err)
	}
	s, err := keysetState(h)
	if err != nil {
		return nil, configError(name, err)
	}
	k := &KEK{name: name, fromKeyset: true}
	k.state.Store(s)
	return k, nil
}

// SetKeyset replaces the keyset of a KEK built from one, for example after
// keyset.Manager added a key and made it primary. Wrap uses the new primary
// at once, and PrimaryVersion returns its id, so a keyring notices the
// rotation. Data keys wrapped under a key that h no longer has enabled
// stop unwrapping. SetKeyset returns kms.ErrInvalidConfig for a KEK built
// by New or FromKeyURI, and leaves the KEK unchanged on any error.
func (k *KEK) SetKeyset(h *keyset.Handle) error {
	if !k.fromKeyset {
		return configError(k.name, errors.New("KEK was not built from a keyset, so it has no keyset to replace"))
	}
	s, err := keysetState(h)
	if err != nil {
		return configError(k.name, err)
	}
	k.state.Store(s)
	return nil
}

func newState(a tink.AEAD) *state {
	s := &state{aead: a}
	s.ctxAEAD, _ = a.(tink.AEADWithContext)
	return s
}

// keysetState builds the AEAD primitive of h and records the status of
// every key in it, which Unwrap uses to explain a failure.
func keysetState(h *keyset.Handle) (*state, error) {
	if h == nil || h.Len() == 0 {
		return nil, errors.New("keyset handle is nil or empty")
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("keyset is not a Tink AEAD keyset: %w", err)
	}
	info := h.KeysetInfo()
	if info.GetPrimaryKeyId() == 0 {
		// Version zero means "no versions" in kms.Wrapped.
		return nil, errors.New("primary key id is 0, which kms.Wrapped reserves for \"no version\": add a new key and make it primary")
	}
	s := newState(a)
	s.primary = info.GetPrimaryKeyId()
	s.status = make(map[uint32]tinkpb.KeyStatusType, len(info.GetKeyInfo()))
	for _, ki := range info.GetKeyInfo() {
		s.status[ki.GetKeyId()] = ki.GetStatus()
	}
	return s, nil
}

func checkName(name string) error {
	if name == "" {
		return errors.New("KEK name is empty")
	}
	return nil
}

// Name returns the logical KEK name given to the constructor.
func (k *KEK) Name() string { return k.name }

// PrimaryVersion returns the id of the keyset's primary key, or zero for a
// KEK built by New or FromKeyURI. Key ids are random, so a new primary
// differs from the old one but is not greater.
func (k *KEK) PrimaryVersion(_ context.Context) (uint32, error) {
	return k.state.Load().primary, nil
}

// String returns the KEK name and primary key id, never key material.
func (k *KEK) String() string {
	if k == nil {
		return "tinkkms.KEK(nil)"
	}
	s := k.state.Load()
	if !k.fromKeyset {
		return fmt.Sprintf("tinkkms.KEK(%q, AEAD without versions)", k.name)
	}
	return fmt.Sprintf("tinkkms.KEK(%q, primary key id %d)", k.name, s.primary)
}

// GoString returns the same text as String, so %#v prints no key material.
func (k *KEK) GoString() string { return k.String() }

// Format writes the same text as String for every verb, so that no verb
// prints the AEAD primitive and its key bytes.
func (k *KEK) Format(f fmt.State, _ rune) {
	fmt.Fprint(f, k.String())
}
