//go:build unix

package regularfile

import (
	"os"
	"syscall"
)

// openFlags opens without waiting for a writer, should the path have
// become a FIFO after os.Stat. O_NONBLOCK does not change reads from a
// regular file.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
