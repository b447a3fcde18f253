package keyfile

import (
	"context"
	"fmt"
	"math"

	"github.com/kenvelope/kenvelope/kms"
)

// PrimaryVersion returns the version that Wrap uses now, whatever its
// state. It does no I/O and ignores ctx, so it does not notice changes that
// another process made to the file until Reload.
func (k *KEK) PrimaryVersion(_ context.Context) (uint32, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys.primary, nil
}

// Rotate adds a new enabled version, numbered one above the highest
// version so far, makes it the primary version and returns its number.
// Data keys wrapped under older versions still unwrap.
func (k *KEK) Rotate() (uint32, error) {
	key := randomKey()
	var v uint32
	err := k.update(func(s *keyState) error {
		high := s.highest()
		if high == math.MaxUint32 {
			return fmt.Errorf("keyfile: KEK %q has reached the maximum version %d", k.name, high)
		}
		v = high + 1
		s.versions[v] = version{state: stateEnabled, key: key}
		s.primary = v
		return nil
	})
	if err != nil {
		key.wipe()
		return 0, err
	}
	return v, nil
}

// Disable makes version v unusable for Wrap and Unwrap until Enable. v may
// be the primary version, and Wrap then fails with kms.ErrKeyDisabled.
func (k *KEK) Disable(v uint32) error { return k.setState(v, stateDisabled) }

// Enable makes a disabled version v usable again. A destroyed version
// cannot be enabled.
func (k *KEK) Enable(v uint32) error { return k.setState(v, stateEnabled) }

func (k *KEK) setState(v uint32, state string) error {
	return k.update(func(s *keyState) error {
		ver, err := k.find(s, v)
		if err != nil {
			return err
		}
		if ver.state == stateDestroyed {
			return fmt.Errorf("keyfile: KEK %q version %d is destroyed and cannot be %s: %w", k.name, v, state, kms.ErrKeyDestroyed)
		}
		ver.state = state
		s.versions[v] = ver
		return nil
	})
}

// Destroy wipes the key of version v and removes it from the key file,
// keeping v listed as destroyed, so data keys wrapped under v can never be
// unwrapped again. v may be the primary version, and Wrap then fails with
// kms.ErrKeyDestroyed until Rotate. Destroying a destroyed version does
// nothing. The package doc explains why this is not a secure erase.
func (k *KEK) Destroy(v uint32) error {
	var old keyBytes
	err := k.update(func(s *keyState) error {
		ver, err := k.find(s, v)
		if err != nil {
			return err
		}
		old = ver.key
		s.versions[v] = version{state: stateDestroyed}
		return nil
	})
	if err == nil {
		// The new keyState no longer refers to old, and update has
		// released the lock, so no Unwrap can be reading it.
		old.wipe()
	}
	return err
}

// SetMinVersion sets the lowest version that Unwrap accepts. Unwrap fails
// with kms.ErrVersionTooOld for data keys wrapped under a lower version. v
// must be between 1 and the primary version. The minimum may be lowered
// again.
func (k *KEK) SetMinVersion(v uint32) error {
	return k.update(func(s *keyState) error {
		if v < 1 || v > s.primary {
			return fmt.Errorf("keyfile: min version %d of KEK %q is invalid, want 1 to primary version %d", v, k.name, s.primary)
		}
		s.min = v
		return nil
	})
}

// Reload reads the key file again, so that changes another process made to
// it take effect. When the file is no longer usable, Reload returns the
// error and keeps the versions it had. A KEK from FromBytes has no file to
// reload.
func (k *KEK) Reload() error {
	if k.path == "" {
		return fmt.Errorf("keyfile: KEK %q has no key file to reload", k.name)
	}
	k.mu.Lock()
	defer k.mu.Unlock()

	keys, err := readFile(k.path, k.name)
	if err != nil {
		return err
	}
	old := k.keys
	k.keys = keys
	old.wipe() // keys shares no slice with old
	return nil
}

// find returns version v of s, or an error wrapping kms.ErrKeyNotFound.
func (k *KEK) find(s *keyState, v uint32) (version, error) {
	ver, ok := s.versions[v]
	if !ok {
		return version{}, fmt.Errorf("keyfile: KEK %q has no version %d: %w", k.name, v, kms.ErrKeyNotFound)
	}
	return ver, nil
}

// update applies change to a copy of the versions, writes the copy to the
// key file if there is one, and only then makes it current, so a failed
// write leaves the KEK unchanged.
func (k *KEK) update(change func(*keyState) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()

	next := k.keys.clone()
	if err := change(&next); err != nil {
		return err
	}
	if k.path != "" {
		if err := k.persist(next); err != nil {
			return err
		}
	}
	k.keys = next
	return nil
}

func (k *KEK) persist(s keyState) error {
	data, err := encodeFile(k.name, s)
	defer clear(data)
	if err == nil {
		err = replaceFile(k.path, data)
	}
	if err != nil {
		return &FileError{Path: k.path, Err: fmt.Errorf("write failed, KEK unchanged: %w", err)}
	}
	return nil
}
