//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package kafka

import (
	"fmt"
	"os"
	"syscall"
)

// lockEvidence takes an exclusive advisory lock (flock) on f, waiting
// for a process that holds it, so that two processes cannot chain to the
// same document. Closing f releases it.
func lockEvidence(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			if err != nil {
				return fmt.Errorf("kenvelope: lock evidence file: %w", err)
			}
			return nil
		}
	}
}
