package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/daead/aessiv"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/secretdata"
	"github.com/tink-crypto/tink-go/v2/tink"
)

var (
	// ErrIrreversible is returned by Key for a tokenizer whose tokens do
	// not contain the key (HMAC).
	ErrIrreversible = errors.New("tokens: this tokenizer cannot recover keys from tokens")

	// ErrInvalidToken is returned by Key for a token that does not open
	// under the tokenizer's keyset and context.
	ErrInvalidToken = errors.New("tokens: invalid key token: not made by this keyset and context")
)

// domain separates key tokens from any other use of the same key.
const domain = "kenvelope/v1 key token\x00"

// SIVKeySize is the size of a raw AES-SIV key: two AES-256 keys.
const SIVKeySize = 64

// MinHMACKeySize is the smallest HMAC key NewHMAC accepts.
const MinHMACKeySize = 32

// Tokenizer turns record keys into deterministic tokens and, when it is
// Reversible, back. Implementations are safe for concurrent use.
type Tokenizer interface {
	// Token returns the token of key. Equal keys give equal tokens.
	Token(key []byte) ([]byte, error)
	// Key returns the key whose token is token, or ErrIrreversible.
	Key(token []byte) ([]byte, error)
	// Reversible reports whether Key can recover keys.
	Reversible() bool
}

// Opt configures a tokenizer.
type Opt interface{ apply(*config) }

type config struct{ context []byte }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

// Context binds tokens to ctx, for example a tenant or data-class name, so
// that the same key gives unrelated tokens under different contexts.
// Producer and consumer must use the same context. Default: empty.
func Context(ctx string) Opt {
	return optFunc(func(c *config) { c.context = []byte(ctx) })
}

func associatedData(opts []Opt) []byte {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	return append([]byte(domain), c.context...)
}

// SIV is the reversible tokenizer, AES-SIV through tink-go's deterministic
// AEAD.
type SIV struct {
	prim tink.DeterministicAEAD
	ad   []byte
}

// NewSIV returns a SIV tokenizer using the primary key of h, an AES-SIV
// keyset (daead.AESSIVKeyTemplate). Load h with keyset.Read and a KMS AEAD
// so that the keyset is never stored in clear.
func NewSIV(h *keyset.Handle, opts ...Opt) (*SIV, error) {
	if h == nil {
		return nil, errors.New("tokens: NewSIV: nil keyset handle")
	}
	p, err := daead.New(h)
	if err != nil {
		return nil, fmt.Errorf("tokens: NewSIV: %w", err)
	}
	return &SIV{prim: p, ad: associatedData(opts)}, nil
}

// NewSIVFromKey returns a SIV tokenizer for a raw SIVKeySize-byte key,
// whose tokens carry no Tink key id prefix. It copies key.
func NewSIVFromKey(key []byte, opts ...Opt) (*SIV, error) {
	if len(key) != SIVKeySize {
		return nil, fmt.Errorf("tokens: AES-SIV key is %d bytes, want %d", len(key), SIVKeySize)
	}
	h, err := rawSIVHandle(key)
	if err != nil {
		return nil, err
	}
	return NewSIV(h, opts...)
}

// rawSIVHandle returns a keyset holding key as its only, primary AES-SIV
// key, without output prefix.
func rawSIVHandle(key []byte) (*keyset.Handle, error) {
	params, err := aessiv.NewParameters(len(key), aessiv.VariantNoPrefix)
	if err != nil {
		return nil, fmt.Errorf("tokens: AES-SIV parameters for a %d-byte key: %w", len(key), err)
	}
	k, err := aessiv.NewKey(secretdata.NewBytesFromData(key, insecuresecretdataaccess.Token{}), 0, params)
	if err != nil {
		return nil, fmt.Errorf("tokens: AES-SIV key: %w", err)
	}
	m := keyset.NewManager()
	id, err := m.AddKey(k)
	if err != nil {
		return nil, fmt.Errorf("tokens: AES-SIV keyset: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, fmt.Errorf("tokens: AES-SIV keyset: %w", err)
	}
	return m.Handle()
}

// Token returns the AES-SIV ciphertext of key.
func (s *SIV) Token(key []byte) ([]byte, error) {
	t, err := s.prim.EncryptDeterministically(key, s.ad)
	if err != nil {
		return nil, fmt.Errorf("tokens: encrypt key: %w", err)
	}
	return t, nil
}

// Key decrypts token, or returns ErrInvalidToken. The key of an empty
// key's token is empty, not nil.
func (s *SIV) Key(token []byte) ([]byte, error) {
	k, err := s.prim.DecryptDeterministically(token, s.ad)
	if err != nil {
		return nil, ErrInvalidToken
	}
	if k == nil {
		// Package kafka never tokenizes a null key, and Kafka tells a null
		// key from an empty one, so an empty key comes back non-nil.
		k = []byte{}
	}
	return k, nil
}

// Reversible returns true.
func (s *SIV) Reversible() bool { return true }

// String returns a fixed description without key material.
func (s *SIV) String() string { return "tokens.SIV(redacted)" }

// HMAC is the one-way tokenizer, HMAC-SHA-256.
type HMAC struct {
	key []byte
	ad  []byte
}

// NewHMAC returns an HMAC tokenizer for key, which must be at least
// MinHMACKeySize bytes. It copies key.
func NewHMAC(key []byte, opts ...Opt) (*HMAC, error) {
	if len(key) < MinHMACKeySize {
		return nil, fmt.Errorf("tokens: HMAC key is %d bytes, want at least %d", len(key), MinHMACKeySize)
	}
	return &HMAC{key: append([]byte(nil), key...), ad: associatedData(opts)}, nil
}

// Token returns HMAC-SHA-256 over the domain, the context's length and
// bytes, and key.
func (h *HMAC) Token(key []byte) ([]byte, error) {
	m := hmac.New(sha256.New, h.key)
	var n [4]byte
	n[0], n[1], n[2], n[3] = byte(len(h.ad)>>24), byte(len(h.ad)>>16), byte(len(h.ad)>>8), byte(len(h.ad))
	m.Write(n[:])
	m.Write(h.ad)
	m.Write(key)
	return m.Sum(nil), nil
}

// Key returns ErrIrreversible.
func (h *HMAC) Key([]byte) ([]byte, error) { return nil, ErrIrreversible }

// Reversible returns false.
func (h *HMAC) Reversible() bool { return false }

// String returns a fixed description without key material.
func (HMAC) String() string { return "tokens.HMAC(redacted)" }

// GoString returns a fixed description without key material.
func (HMAC) GoString() string { return "tokens.HMAC(redacted)" }

// Format prints a fixed description for every verb, so that %x or %#v of
// an HMAC prints no key bytes.
func (HMAC) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("tokens.HMAC(redacted)")) }
