package keyring

import (
	"context"
	"fmt"
	"sync"
)

// group runs one call per key at a time; callers that arrive while it
// runs wait for its result or for their own context.
type group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*groupCall[V]
}

type groupCall[V any] struct {
	done chan struct{}
	val  V
	err  error
}

func (g *group[K, V]) do(ctx context.Context, key K, fn func() (V, error)) (V, error) {
	for {
		g.mu.Lock()
		if g.calls == nil {
			g.calls = map[K]*groupCall[V]{}
		}
		c, ok := g.calls[key]
		if !ok {
			c = &groupCall[V]{done: make(chan struct{})}
			g.calls[key] = c
			g.mu.Unlock()
			c.val, c.err = fn()
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(c.done)
			return c.val, c.err
		}
		g.mu.Unlock()
		select {
		case <-c.done:
			if c.err != nil && ctx.Err() == nil && isContextErr(c.err) {
				continue // the leader's context ended, not ours
			}
			return c.val, c.err
		case <-ctx.Done():
			var zero V
			return zero, fmt.Errorf("keyring: waiting for a subject key: %w", ctx.Err())
		}
	}
}
