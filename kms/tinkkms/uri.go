package tinkkms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"

	"github.com/kenvelope/kenvelope/kms"
)

// Scheme is the key URI scheme that this package registers with
// kms.Register. A URI of the form
//
//	tink-keyset:///ABSOLUTE/PATH/keyset.json?kek-uri=PERCENT-ENCODED-TINK-KEY-URI
//
// names an encrypted keyset file and the Tink KMS key URI of the AEAD that
// encrypted it. kms.Open reads the file with ReadEncryptedKeyset, using
// the AEAD that the Tink KMS client registered for kek-uri returns. The
// keyset must have been written without associated data.
const Scheme = "tink-keyset"

func init() {
	kms.Register(Scheme, openURI)
}

func openURI(ctx context.Context, name, uri string) (kms.KEK, error) {
	file, kekURI, err := parseKeysetURI(uri)
	if err != nil {
		return nil, configError(name, err)
	}
	kekAEAD, err := aeadFromKeyURI(kekURI)
	if err != nil {
		return nil, configError(name, err)
	}

	f, err := os.Open(file)
	if err != nil {
		return nil, configError(name, fmt.Errorf("open encrypted keyset: %w", err))
	}
	defer f.Close()
	k, err := ReadEncryptedKeyset(ctx, name, f, kekAEAD)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// parseKeysetURI returns the keyset path and KEK URI of a tink-keyset URI.
// Its errors never quote the URI, because a test KEK URI can embed a key.
func parseKeysetURI(uri string) (file, kekURI string, err error) {
	const form = "want tink-keyset:///ABSOLUTE/PATH?kek-uri=TINK-KEY-URI"
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", errors.New("tink-keyset URI does not parse as a URL, " + form)
	}
	if u.Scheme != Scheme {
		return "", "", fmt.Errorf("key URI scheme is %q, %s", u.Scheme, form)
	}
	if u.Host != "" || u.User != nil || !path.IsAbs(u.Path) {
		return "", "", errors.New("tink-keyset URI has a host or a relative path, " + form)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", "", errors.New("tink-keyset URI has an invalid query, " + form)
	}
	for key := range q {
		if key != "kek-uri" {
			return "", "", fmt.Errorf("tink-keyset URI has unknown parameter %q, %s", key, form)
		}
	}
	if len(q["kek-uri"]) != 1 || q.Get("kek-uri") == "" {
		return "", "", errors.New("tink-keyset URI needs exactly one non-empty kek-uri parameter, " + form)
	}
	return u.Path, q.Get("kek-uri"), nil
}
