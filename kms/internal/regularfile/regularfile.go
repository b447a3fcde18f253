// Package regularfile opens the key files and keysets that kms backends
// read, without ever blocking on a FIFO or opening a device.
package regularfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by Open's error for a path that is not a
// regular file, such as a FIFO, socket, device or directory.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading and returns the file and its information.
// path must be a regular file or a symbolic link to one, which is how
// Kubernetes mounts secrets. Open checks twice: os.Stat before opening, so
// that a FIFO or device is never opened, and File.Stat after opening, so
// that the file read is the file checked. On Unix the open uses O_NONBLOCK,
// so a FIFO swapped in between the two checks cannot block it either.
func Open(path string) (*os.File, fs.FileInfo, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, nil, err
	}

	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	info, err = f.Stat()
	if err == nil {
		err = checkRegular(info)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, info, nil
}

func checkRegular(info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w (mode %s)", ErrNotRegular, info.Mode())
	}
	return nil
}
