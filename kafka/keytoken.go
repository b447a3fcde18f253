package kafka

import (
	"fmt"

	"github.com/kenvelope/kenvelope/tokens"
)

// KeyTokens makes a Producer replace every non-nil record key with its
// token from t, and a Consumer given a reversible t put the original key
// back. Equal keys give equal tokens, so partitioning and log compaction
// work as before; tombstones are tokenized too, so they still delete. A
// nil key stays nil. The record's ciphertexts are bound to the token, the
// key as stored. With a one-way t (tokens.HMAC) a Consumer returns the
// token as the key. Default: keys are sent as they are.
func KeyTokens(t tokens.Tokenizer) RecordOpt {
	return recordOpt(func(e *extConfig) { e.keys = t })
}

// tokenKey returns the token of key, or key itself when no tokenizer is
// configured or key is nil.
func (e *extConfig) tokenKey(key []byte) ([]byte, error) {
	if e.keys == nil || key == nil {
		return key, nil
	}
	t, err := e.keys.Token(key)
	if err != nil {
		return nil, fmt.Errorf("tokenize record key: %w", err)
	}
	return t, nil
}

// originalKey returns the key whose token is key, or key itself when no
// tokenizer is configured, the tokenizer is one-way, or key is nil.
func (e *extConfig) originalKey(key []byte) ([]byte, error) {
	if e.keys == nil || key == nil || !e.keys.Reversible() {
		return key, nil
	}
	k, err := e.keys.Key(key)
	if err != nil {
		return nil, fmt.Errorf("recover record key from its token: %w", err)
	}
	return k, nil
}
