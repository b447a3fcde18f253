package keyring

import (
	"sync/atomic"
	"time"
)

// coarseClock is the time a warm SealSubject reads, in Unix nanoseconds,
// set by a goroutine of the Ring every step. Reading the clock for each
// value cost about a tenth of a 1 KiB seal. A DEK may therefore seal for
// up to one step, plus any delay in scheduling that goroutine, after its
// cache entry expired.
type coarseClock struct {
	nanos atomic.Int64
	step  time.Duration
}

// clockStep returns the step of the coarse clock for a SubjectCacheTTL of
// ttl: a sixteenth of it, from 1 ms to 50 ms.
func clockStep(ttl time.Duration) time.Duration {
	return min(max(ttl/16, time.Millisecond), 50*time.Millisecond)
}

func (c *coarseClock) now() int64 { return c.nanos.Load() }

// run sets c from now every step until stop is closed.
func (c *coarseClock) run(now func() time.Time, stop <-chan struct{}) {
	t := time.NewTicker(c.step)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			c.nanos.Store(now().UnixNano())
		}
	}
}
