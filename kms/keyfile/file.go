package keyfile

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kenvelope/kenvelope/kms/internal/redact"
	"github.com/kenvelope/kenvelope/kms/internal/regularfile"
)

const (
	fileFormat  = 1
	maxFileSize = 1 << 20
)

// fileDoc is the JSON form of a key file. The package doc describes it.
type fileDoc struct {
	Format     int          `json:"format"`
	Name       string       `json:"name"`
	Primary    uint32       `json:"primary"`
	MinVersion uint32       `json:"min_version"`
	Versions   []versionDoc `json:"versions"`
}

type versionDoc struct {
	Version uint32 `json:"version"`
	State   string `json:"state"`
	Key     []byte `json:"key,omitempty"` // standard base64 in JSON
}

// readFile reads and checks the key file at path, which must contain the KEK
// name. path must be a regular file or a symbolic link to one, so that a
// FIFO cannot block the caller. The file is read through the descriptor
// whose mode was checked.
func readFile(path, name string) (keyState, error) {
	f, info, err := regularfile.Open(path)
	if err != nil {
		return keyState{}, &FileError{Path: path, Err: err}
	}
	defer f.Close()

	if info.Mode().Perm()&0o077 != 0 {
		return keyState{}, &PermissionError{Path: path, Mode: info.Mode().Perm()}
	}

	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	defer clear(data)
	if err != nil {
		return keyState{}, &FileError{Path: path, Err: err}
	}
	if len(data) > maxFileSize {
		return keyState{}, &FileError{Path: path, Err: fmt.Errorf("file is larger than %d bytes", maxFileSize)}
	}
	return parseFile(data, path, name)
}

func parseFile(data []byte, path, name string) (keyState, error) {
	var doc fileDoc
	defer wipeDoc(&doc)

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return keyState{}, &FileError{Path: path, Err: jsonError(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return keyState{}, &FileError{Path: path, Err: errors.New("data after the JSON object")}
	}
	return decodeState(doc, path, name)
}

// jsonError rewrites a decoding error so that it cites no text from the
// file, which may be key material. A field name from an UnmarshalTypeError
// is one of fileDoc's own names, so it is safe to quote. encoding/json has
// no type for an unknown field, and its message quotes the field name, in
// which a key may have been pasted, so that error and any other of an
// unknown form get a message of this package's own.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var base64Err base64.CorruptInputError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte offset %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("JSON field %q has the wrong type, want %s", typ.Field, typ.Type)
	case errors.As(err, &base64Err):
		return fmt.Errorf("a key is not valid standard base64 (invalid byte at offset %d of the key)", int64(base64Err))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("JSON object is empty or cut short")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errors.New("JSON object has a field that the key file format does not define (its name is not shown, because it may be key material)")
	}
	return errors.New("JSON document does not decode as a key file")
}

func decodeState(doc fileDoc, path, name string) (keyState, error) {
	invalid := func(v uint32, format string, args ...any) (keyState, error) {
		return keyState{}, &FileError{Path: path, Version: v, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case doc.Format != fileFormat:
		return invalid(0, "format is %d, want %d", doc.Format, fileFormat)
	case doc.Name != name:
		return invalid(0, "file contains KEK %s, want %q", redact.Name(doc.Name), name)
	case len(doc.Versions) == 0:
		return invalid(0, "file lists no versions")
	}

	s := keyState{primary: doc.Primary, min: doc.MinVersion, versions: map[uint32]version{}}
	for _, vd := range doc.Versions {
		v, err := decodeVersion(vd)
		if _, dup := s.versions[vd.Version]; dup {
			err = errors.New("version is listed twice")
		}
		if err != nil {
			s.wipe()
			v.key.wipe()
			return invalid(vd.Version, "%w", err)
		}
		s.versions[vd.Version] = v
	}

	if _, ok := s.versions[s.primary]; !ok {
		s.wipe()
		return invalid(0, "primary version %d is not listed", s.primary)
	}
	if s.min < 1 || s.min > s.primary {
		s.wipe()
		return invalid(0, "min_version is %d, want 1 to primary version %d", s.min, s.primary)
	}
	return s, nil
}

func decodeVersion(vd versionDoc) (version, error) {
	if vd.Version == 0 {
		return version{}, errors.New("version number is 0, want 1 or more")
	}
	switch vd.State {
	case stateEnabled, stateDisabled:
		if len(vd.Key) != keySize {
			return version{}, fmt.Errorf("key is %d bytes, want %d", len(vd.Key), keySize)
		}
		return version{state: vd.State, key: copyKey(vd.Key)}, nil
	case stateDestroyed:
		if len(vd.Key) != 0 {
			return version{}, errors.New("destroyed version still has a key")
		}
		return version{state: stateDestroyed}, nil
	}
	return version{}, fmt.Errorf("state %s is invalid, want %q, %q or %q", redact.Name(vd.State), stateEnabled, stateDisabled, stateDestroyed)
}

func wipeDoc(doc *fileDoc) {
	for _, vd := range doc.Versions {
		clear(vd.Key)
	}
}

// encodeFile returns the JSON form of s, versions in ascending order. The
// caller clears the result after use.
func encodeFile(name string, s keyState) ([]byte, error) {
	doc := fileDoc{Format: fileFormat, Name: name, Primary: s.primary, MinVersion: s.min}
	for _, v := range slices.Sorted(maps.Keys(s.versions)) {
		ver := s.versions[v]
		doc.Versions = append(doc.Versions, versionDoc{Version: v, State: ver.state, Key: ver.key.bytes()})
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	return append(data, '\n'), err
}

// createFile writes a new key file at path with one random version. When
// another process created the file first, createFile reads that file.
func createFile(path, name string) (keyState, error) {
	s := newKeyState(randomKey())
	data, err := encodeFile(name, s)
	defer clear(data)
	if err == nil {
		err = writeNew(path, data)
	}
	if errors.Is(err, os.ErrExist) {
		s.wipe()
		return readFile(path, name)
	}
	if err != nil {
		s.wipe()
		return keyState{}, &FileError{Path: path, Err: err}
	}
	return s, nil
}

// writeNew creates path with mode 0600, failing if it exists, and writes
// data to it durably. It removes the file again if writing fails.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = writeSync(f, data)
	if err != nil {
		_ = os.Remove(path)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// replaceFile replaces path atomically with a file of mode 0600 containing
// data: write a temporary file, fsync, rename, fsync the directory.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	if err := writeSync(f, data); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return syncDir(dir)
}

// writeSync writes data to f, fsyncs and closes it.
func writeSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
