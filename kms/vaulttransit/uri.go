package vaulttransit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/kenvelope/kenvelope/kms"
)

// Scheme is the key URI scheme that this package registers with kms.Open.
const Scheme = "hcvault"

func init() {
	kms.Register(Scheme, openURI)
}

// keyURI is a parsed hcvault:// key URI.
type keyURI struct {
	address string // Vault address, such as https://vault.example.com:8200
	mount   string
	keyName string
}

// openURI opens a KEK from a key URI of the form
// hcvault://HOST[:PORT]/MOUNT/keys/NAME[?tls=false].
func openURI(ctx context.Context, name, uri string) (kms.KEK, error) {
	target, err := parseKeyURI(uri)
	if err != nil {
		return nil, configError(name, fmt.Errorf("key URI %q: %w", uri, err))
	}
	client, err := newClient(target.address)
	if err != nil {
		return nil, configError(name, err)
	}
	return New(ctx, client, name, target.keyName, MountPath(target.mount))
}

func configError(name string, cause error) error {
	return &kms.Error{Op: opOpen, KEK: name, Kind: kms.ErrInvalidConfig, Cause: cause}
}

func parseKeyURI(uri string) (keyURI, error) {
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		return keyURI{}, errors.New("not a valid URL")
	case u.Scheme != Scheme:
		return keyURI{}, fmt.Errorf("scheme is %q, want %q", u.Scheme, Scheme)
	case u.User != nil:
		return keyURI{}, errors.New("contains user information, but the token must come from VAULT_TOKEN")
	case u.Host == "":
		return keyURI{}, errors.New("has no host")
	case u.Fragment != "":
		return keyURI{}, errors.New("has a fragment")
	}

	scheme, err := addressScheme(u)
	if err != nil {
		return keyURI{}, err
	}

	i := strings.LastIndex(u.Path, "/keys/")
	if i < 0 {
		return keyURI{}, errors.New("path has no /keys/, want /MOUNT/keys/NAME")
	}
	target := keyURI{
		address: scheme + "://" + u.Host,
		mount:   strings.Trim(u.Path[:i], "/"),
		keyName: u.Path[i+len("/keys/"):],
	}
	if target.mount == "" || target.keyName == "" {
		return keyURI{}, errors.New("path must name a mount and a key, want /MOUNT/keys/NAME")
	}
	return target, nil
}

// addressScheme returns "https", or "http" for a loopback host whose URI
// sets tls=false.
func addressScheme(u *url.URL) (string, error) {
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return "", fmt.Errorf("unknown query parameter %q, only tls=false is supported", k)
		}
	}
	switch q.Get("tls") {
	case "", "true":
		return "https", nil
	case "false":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("tls=false is allowed only for a loopback host, not %q, because the token and data keys would cross the network unencrypted", u.Hostname())
		}
		return "http", nil
	default:
		return "", fmt.Errorf("tls=%q is invalid, want true or false", q.Get("tls"))
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newClient builds a Vault client for address from api.DefaultConfig, which
// reads the VAULT_ environment variables. The address, VAULT_AGENT_ADDR and
// VAULT_SRV_LOOKUP are overridden so that the URI alone decides which host
// the client contacts.
func newClient(address string) (*api.Client, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault client configuration from the environment: %w", cfg.Error)
	}
	cfg.Address = address
	cfg.AgentAddress = ""
	cfg.SRVLookup = false

	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	if client.Token() == "" {
		return nil, errors.New("no vault token: set VAULT_TOKEN")
	}
	return client, nil
}
