package keyfile

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/kenvelope/kenvelope/kms"
)

// Scheme is the key URI scheme that this package registers with
// kms.Register, as in keyfile:///var/lib/app/lab-results.json.
const Scheme = "keyfile"

func init() { kms.Register(Scheme, openURI) }

func openURI(_ context.Context, name, uri string) (kms.KEK, error) {
	path, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	kek, err := Open(path, name)
	if err != nil {
		return nil, err // a nil *KEK must not become a non-nil kms.KEK
	}
	return kek, nil
}

// parseURI returns the absolute path that a keyfile:///path URI names.
func parseURI(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("keyfile: %w: %w", err, kms.ErrInvalidConfig)
	}
	switch {
	case u.Scheme != Scheme:
		return "", fmt.Errorf("keyfile: key URI %q has scheme %q, want %q: %w", uri, u.Scheme, Scheme, kms.ErrInvalidConfig)
	case u.Host != "" || u.User != nil:
		return "", fmt.Errorf("keyfile: key URI %q names a host, want keyfile:///absolute/path with three slashes: %w", uri, kms.ErrInvalidConfig)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("keyfile: key URI %q has a query or fragment, which keyfile does not use: %w", uri, kms.ErrInvalidConfig)
	case !filepath.IsAbs(u.Path):
		return "", fmt.Errorf("keyfile: key URI %q does not name an absolute path, want keyfile:///absolute/path: %w", uri, kms.ErrInvalidConfig)
	}
	return u.Path, nil
}
