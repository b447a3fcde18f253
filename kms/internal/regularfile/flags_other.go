//go:build !unix

package regularfile

import "os"

// openFlags is a plain read-only open where Unix FIFOs do not exist.
const openFlags = os.O_RDONLY
