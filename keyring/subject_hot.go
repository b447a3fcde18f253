package keyring

import "sync"

// hotCache maps subject identifiers of one KEK to their token and current
// DEK, so that a warm SealSubject computes no HMAC. The identifiers stay in
// this process's memory only, as the record keys and values that carry
// them do; they are never written, logged or sent. An entry whose DEK is
// dead, exhausted or expired fails reserve and sends SealSubject down the
// slow path, which replaces it.
type hotCache struct {
	mu  sync.RWMutex
	max int
	m   map[string]hotEntry
}

type hotEntry struct {
	token Token
	dek   *subjectDEK
}

func newHotCache(max int) *hotCache { return &hotCache{max: max, m: map[string]hotEntry{}} }

func (h *hotCache) get(subject []byte) (hotEntry, bool) {
	h.mu.RLock()
	e, ok := h.m[string(subject)]
	h.mu.RUnlock()
	return e, ok
}

// put stores e for subject. A full cache is emptied: rebuilding an entry
// costs one HMAC.
func (h *hotCache) put(subject []byte, e hotEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.m[string(subject)]; !ok && len(h.m) >= h.max {
		clear(h.m)
	}
	h.m[string(subject)] = e
}

func (h *hotCache) remove(subject []byte) {
	h.mu.Lock()
	delete(h.m, string(subject))
	h.mu.Unlock()
}

func (h *hotCache) purge() {
	h.mu.Lock()
	clear(h.m)
	h.mu.Unlock()
}
