package keyring

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is the time a warm SealSubject reads, in Unix nanoseconds,
// set every step by a goroutine of the Ring. Reading the clock for each
// value cost about a tenth of a 1 KiB seal. A DEK may therefore seal for
// up to one step after its cache entry expired, plus however late the Go
// scheduler runs that goroutine. With both cores of a 2-core machine busy
// sealing, that came to about 110 ms at the 50 ms step. The goroutine waits without
// waking until the first seal under a subject key calls start, so a Ring
// that only opens records pays nothing for it.
type coarseClock struct {
	nanos atomic.Int64
	step  time.Duration
	wake  chan struct{}
	once  sync.Once
}

func newCoarseClock(step time.Duration) *coarseClock {
	return &coarseClock{step: step, wake: make(chan struct{})}
}

// clockStep returns the step of the coarse clock for a SubjectCacheTTL of
// ttl: a sixteenth of it, from 1 ms to 50 ms.
func clockStep(ttl time.Duration) time.Duration {
	return min(max(ttl/16, time.Millisecond), 50*time.Millisecond)
}

func (c *coarseClock) now() int64 { return c.nanos.Load() }

// start sets c from now and lets run step it. Call it before the first
// value that reads c.
func (c *coarseClock) start(now func() time.Time) {
	c.once.Do(func() {
		c.nanos.Store(now().UnixNano())
		close(c.wake)
	})
}

// run sets c from now every step, from start until stop is closed.
func (c *coarseClock) run(now func() time.Time, stop <-chan struct{}) {
	select {
	case <-stop:
		return
	case <-c.wake:
	}
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
