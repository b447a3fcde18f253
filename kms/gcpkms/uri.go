package gcpkms

import (
	"context"
	"fmt"
	"strings"

	kmsapi "cloud.google.com/go/kms/apiv1"

	"github.com/kenvelope/kenvelope/kms"
)

// Scheme is the key URI scheme that this package registers with kms.Open.
const Scheme = "gcp-kms"

// openOpts are the options that the opener registered with kms.Open passes
// to OpenURI. They stay empty outside this package's tests.
var openOpts []Opt

func init() {
	kms.Register(Scheme, func(ctx context.Context, name, uri string) (kms.KEK, error) {
		k, err := OpenURI(ctx, name, uri, openOpts...)
		if err != nil {
			return nil, err
		}
		return k, nil
	})
}

// OpenURI returns a KEK with the logical name for a key URI of the form
// gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K, the form Tink
// uses. It creates its own Cloud KMS client, which uses Application Default
// Credentials unless ClientOptions sets other credentials, and the KEK's
// Close closes that client. The URI is checked before any client is created.
// Configuration errors wrap kms.ErrInvalidConfig.
func OpenURI(ctx context.Context, name, uri string, opts ...Opt) (*KEK, error) {
	keyName, ok := strings.CutPrefix(uri, Scheme+"://")
	if !ok {
		return nil, fmt.Errorf("gcpkms: KEK %q: key URI does not start with %s://: %w", name, Scheme, kms.ErrInvalidConfig)
	}
	// The URI is never quoted, because a rejected one may carry a token.
	if i := strings.IndexAny(keyName, "@?#"); i >= 0 {
		return nil, fmt.Errorf("gcpkms: KEK %q: key URI has user information, a query or a fragment (%q at byte %d after %s://), "+
			"which this scheme does not take, because credentials come from ClientOptions or Application Default Credentials: %w",
			name, keyName[i], i, Scheme, kms.ErrInvalidConfig)
	}
	k, err := newKEK(nil, name, keyName)
	if err != nil {
		return nil, err
	}

	s := newSettings(opts)
	client, err := kmsapi.NewKeyManagementClient(ctx, s.clientOptions...)
	if err != nil {
		return nil, fmt.Errorf("gcpkms: KEK %q: create Cloud KMS client: %w: %w", name, err, kms.ErrInvalidConfig)
	}
	k.client, k.owned = client, true
	return k, nil
}
