package tinkkms

import "errors"

var (
	errNilOpt          = errors.New("option is nil")
	errKeysetADNotRead = errors.New("KeysetAssociatedData applies only to ReadEncryptedKeyset")
)

// Opt configures a KEK built by New, FromKeyset, FromKeyURI or
// ReadEncryptedKeyset.
type Opt interface {
	apply(*config)
}

type config struct {
	keysetAD    []byte
	hasKeysetAD bool
}

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

// KeysetAssociatedData sets the associated data that the encrypted keyset
// was written with, as in keyset.Handle.WriteWithAssociatedData. The
// default is empty associated data, which matches keyset.Handle.Write. Only
// ReadEncryptedKeyset accepts it, and the other constructors return
// kms.ErrInvalidConfig when given it.
func KeysetAssociatedData(ad []byte) Opt {
	ad = append([]byte(nil), ad...)
	return optFunc(func(c *config) {
		c.keysetAD = ad
		c.hasKeysetAD = true
	})
}

// newConfig applies opts and checks them against what the constructor
// accepts.
func newConfig(opts []Opt, readsKeyset bool) (config, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			return c, errNilOpt
		}
		o.apply(&c)
	}
	if c.hasKeysetAD && !readsKeyset {
		return c, errKeysetADNotRead
	}
	return c, nil
}
