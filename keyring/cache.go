package keyring

import (
	"container/list"
	"sync"
	"time"

	"github.com/kenvelope/kenvelope/envelope"
)

// dekCache is a bounded LRU cache of unwrapped DEKs with a TTL, keyed by
// the EDEK bytes.
type dekCache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	now     func() time.Time
	entries map[string]*list.Element
	order   *list.List // front: most recently used
}

type cacheEntry struct {
	edek       string
	kekName    string
	kekVersion uint32
	dek        *envelope.DEK
	expires    time.Time
}

func newDEKCache(max int, ttl time.Duration, now func() time.Time) *dekCache {
	return &dekCache{max: max, ttl: ttl, now: now, entries: map[string]*list.Element{}, order: list.New()}
}

// get returns the DEK for edek if it is cached, unexpired and was wrapped
// by the named KEK version.
func (c *dekCache) get(kekName string, kekVersion uint32, edek []byte) *envelope.DEK {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[string(edek)]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) || e.dek.Destroyed() {
		c.remove(el)
		return nil
	}
	if e.kekName != kekName || e.kekVersion != kekVersion {
		return nil
	}
	c.order.MoveToFront(el)
	return e.dek
}

func (c *dekCache) add(kekName string, kekVersion uint32, edek []byte, dek *envelope.DEK) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[string(edek)]; ok {
		c.remove(el)
	}
	e := &cacheEntry{edek: string(edek), kekName: kekName, kekVersion: kekVersion, dek: dek, expires: c.now().Add(c.ttl)}
	c.entries[e.edek] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		c.remove(c.order.Back())
	}
}

func (c *dekCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.order.Len() > 0 {
		c.remove(c.order.Back())
	}
}

// remove drops el. It does not destroy the DEK, which a Seal or Open in
// another goroutine may still be using; the garbage collector reclaims it.
func (c *dekCache) remove(el *list.Element) {
	delete(c.entries, el.Value.(*cacheEntry).edek)
	c.order.Remove(el)
}
