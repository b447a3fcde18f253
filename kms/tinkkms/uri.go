package tinkkms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/internal/redact"
	"github.com/kenvelope/kenvelope/kms/internal/regularfile"
)

// Scheme is the key URI scheme that this package registers with
// kms.Register. A URI of the form
//
//	tink-keyset:///ABSOLUTE/PATH/keyset.json?kek-uri=PERCENT-ENCODED-TINK-KEY-URI
//
// names an encrypted keyset file and the Tink KMS key URI of the AEAD that
// encrypted it. kms.Open reads the file with ReadEncryptedKeyset, using
// the AEAD that the Tink KMS client registered for kek-uri returns. The
// keyset must have been written without associated data. The path must be
// a regular file or a symbolic link to one, so a FIFO cannot block the
// caller. A host, user information, any parameter but kek-uri, or a
// fragment is rejected, and errors never quote the URI.
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

	// A FIFO at the path would block a plain open until a writer appears.
	f, _, err := regularfile.Open(file)
	if err != nil {
		return nil, configError(name, fmt.Errorf("open encrypted keyset %s: %w", file, err))
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
	u, err := redact.ParseURI(uri)
	if err != nil {
		return "", "", fmt.Errorf("tink-keyset URI: %w, %s", err, form)
	}
	if u.Scheme != Scheme {
		return "", "", fmt.Errorf("key URI scheme is %s, %s", redact.Name(u.Scheme), form)
	}
	if u.Host != "" || u.User != nil || !path.IsAbs(u.Path) {
		return "", "", errors.New("tink-keyset URI has a host, user information or a relative path, " + form)
	}
	if u.Fragment != "" || u.RawFragment != "" || strings.HasSuffix(uri, "#") {
		return "", "", errors.New("tink-keyset URI has a fragment, which this scheme does not use, " + form)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", "", errors.New("tink-keyset URI has an invalid query, " + form)
	}
	for key := range q {
		if key != "kek-uri" {
			return "", "", fmt.Errorf("tink-keyset URI has unknown parameter %s, %s", redact.Name(key), form)
		}
	}
	if len(q["kek-uri"]) != 1 || q.Get("kek-uri") == "" {
		return "", "", errors.New("tink-keyset URI needs exactly one non-empty kek-uri parameter, " + form)
	}
	return u.Path, q.Get("kek-uri"), nil
}
