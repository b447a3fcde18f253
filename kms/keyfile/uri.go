package keyfile

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/internal/redact"
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

// parseURI returns the absolute path that a keyfile:///path URI names. Its
// errors never quote the URI, because a rejected one may carry a password.
func parseURI(uri string) (string, error) {
	u, err := redact.ParseURI(uri)
	if err != nil {
		return "", fmt.Errorf("keyfile: key URI: %w: %w", err, kms.ErrInvalidConfig)
	}
	switch {
	case u.Scheme != Scheme:
		return "", fmt.Errorf("keyfile: key URI has scheme %s, want %q: %w", redact.Name(u.Scheme), Scheme, kms.ErrInvalidConfig)
	case u.Host != "" || u.User != nil:
		return "", fmt.Errorf("keyfile: key URI names a host or user information, want keyfile:///absolute/path with three slashes: %w", kms.ErrInvalidConfig)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("keyfile: key URI has a query or fragment, which keyfile does not use: %w", kms.ErrInvalidConfig)
	case !filepath.IsAbs(u.Path):
		return "", fmt.Errorf("keyfile: key URI does not name an absolute path, want keyfile:///absolute/path: %w", kms.ErrInvalidConfig)
	}
	return u.Path, nil
}
