package keyring

import (
	"context"
	"time"

	"github.com/kenvelope/kenvelope/kms"
)

// watchRotation retires an active DEK whose KEK version is no longer the
// primary one, every RotationCheck, for KEKs that implement kms.Versioned.
func (r *Ring) watchRotation() {
	defer r.done.Done()
	ticker := time.NewTicker(r.cfg.rotationCheck)
	defer ticker.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-ticker.C:
			r.checkRotation()
		}
	}
}

func (r *Ring) checkRotation() {
	for name, kek := range r.keks {
		v, ok := kek.(kms.Versioned)
		if !ok {
			continue
		}
		a := r.slots[name].cur.Load()
		if a == nil || a.retired() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.rotationCheck)
		primary, err := v.PrimaryVersion(ctx)
		cancel()
		if err != nil {
			r.cfg.logger.Warn("kenvelope: reading KEK primary version failed", "kek", name, "error", err)
			continue
		}
		if primary != a.kekVersion {
			// Count it as a rotation, so that a wrap in flight under the
			// old version is dropped too.
			r.slot(name).rotations.Add(1)
			a.retire()
			r.cfg.logger.Info("kenvelope: KEK rotated, replacing stream DEK", "kek", name,
				"old_version", a.kekVersion, "new_version", primary)
			r.auditRotated(name, primary)
		}
	}
}
