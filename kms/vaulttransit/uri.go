package vaulttransit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/internal/redact"
)

// Scheme is the key URI scheme that this package registers with kms.Open.
const Scheme = "hcvault"

func init() {
	kms.Register(Scheme, openURI)
}

// keyURI is a parsed hcvault:// key URI.
type keyURI struct {
	address   string // Vault address, such as https://vault.example.com:8200
	plainHTTP bool   // the URI sets tls=false
	mount     string
	keyName   string
}

// openURI opens a KEK from a key URI of the form
// hcvault://HOST[:PORT]/MOUNT/keys/NAME[?tls=false].
func openURI(ctx context.Context, name, uri string) (kms.KEK, error) {
	target, err := parseKeyURI(uri)
	if err != nil {
		return nil, configError(name, fmt.Errorf("hcvault key URI: %w", err))
	}
	client, err := newClient(target)
	if err != nil {
		return nil, configError(name, err)
	}
	kek, err := New(ctx, client, name, target.keyName, MountPath(target.mount))
	if err != nil {
		return nil, err // a nil *KEK must not become a non-nil kms.KEK
	}
	return kek, nil
}

func configError(name string, cause error) error {
	return &kms.Error{Op: opOpen, KEK: name, Kind: kms.ErrInvalidConfig, Cause: cause}
}

// parseKeyURI checks uri and splits it into address, mount and key name.
// Its errors quote no part of uri that failed a check, because the part
// may be a token pasted into the wrong place.
func parseKeyURI(uri string) (keyURI, error) {
	u, err := redact.ParseURI(uri)
	switch {
	case err != nil:
		return keyURI{}, err
	case u.Scheme != Scheme:
		return keyURI{}, fmt.Errorf("scheme is %s, want %q", redact.Name(u.Scheme), Scheme)
	case u.User != nil:
		return keyURI{}, errors.New("contains user information, but the token must come from VAULT_TOKEN")
	case u.Host == "":
		return keyURI{}, errors.New("has no host")
	case u.Fragment != "":
		return keyURI{}, errors.New("has a fragment")
	}

	plainHTTP, err := tlsDisabled(u)
	if err != nil {
		return keyURI{}, err
	}
	target, err := splitKeyPath(u.Path)
	if err != nil {
		return keyURI{}, err
	}
	target.address = "https://" + u.Host
	if plainHTTP {
		target.address = "http://" + u.Host
	}
	target.plainHTTP = plainHTTP
	return target, nil
}

// splitKeyPath splits /MOUNT/keys/NAME and checks both parts with the
// rules New applies, so that New's errors, which quote the names, never
// see a rejected path.
func splitKeyPath(path string) (keyURI, error) {
	i := strings.LastIndex(path, "/keys/")
	if i < 0 {
		return keyURI{}, errors.New("path has no /keys/, want /MOUNT/keys/NAME")
	}
	target := keyURI{
		mount:   strings.Trim(path[:i], "/"),
		keyName: path[i+len("/keys/"):],
	}
	switch {
	case target.mount == "" || target.keyName == "":
		return keyURI{}, errors.New("path must name a mount and a key, want /MOUNT/keys/NAME")
	case !keyNamePattern.MatchString(target.keyName):
		return keyURI{}, errors.New("key name in the path is invalid, want letters, digits, '_', '-' or '.'")
	case !validMount(target.mount):
		return keyURI{}, errors.New("mount path in the path is invalid, want segments of letters, digits, '_', '-' or '.'")
	}
	return target, nil
}

// tlsDisabled reports whether the URI sets tls=false, which it may only for
// a literal loopback IP address.
func tlsDisabled(u *url.URL) (bool, error) {
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return false, fmt.Errorf("unknown query parameter %s, only tls=false is supported", redact.Name(k))
		}
	}
	switch q.Get("tls") {
	case "", "true":
		return false, nil
	case "false":
		if !isLoopbackIP(u.Hostname()) {
			return false, errors.New("tls=false is allowed only for a literal loopback IP address such as 127.0.0.1 or [::1], " +
				"because the token and data keys would cross the network unencrypted")
		}
		return true, nil
	default:
		return false, errors.New("tls value is invalid, want true or false")
	}
}

// isLoopbackIP reports whether host is a literal IP address in 127.0.0.0/8
// or ::1. A name such as localhost is not accepted, because what it
// resolves to depends on /etc/hosts and DNS, which the URI does not
// control.
func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newClient builds a Vault client for target from api.DefaultConfig, which
// reads the VAULT_ environment variables. The address, VAULT_AGENT_ADDR and
// VAULT_SRV_LOOKUP are overridden so that the URI alone decides which host
// the client contacts. For a tls=false URI the client uses no proxy at all,
// so VAULT_PROXY_ADDR, VAULT_HTTP_PROXY and HTTP_PROXY cannot route the
// token in plain HTTP off the machine.
func newClient(target keyURI) (*api.Client, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault client configuration from the environment: %w", cfg.Error)
	}
	cfg.Address = target.address
	cfg.AgentAddress = ""
	cfg.SRVLookup = false
	if target.plainHTTP {
		transport, ok := cfg.HttpClient.Transport.(*http.Transport)
		if !ok {
			return nil, fmt.Errorf("vault client transport is %T, want *http.Transport, so its proxy cannot be turned off", cfg.HttpClient.Transport)
		}
		transport.Proxy = nil
	}

	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	if client.Token() == "" {
		return nil, errors.New("no vault token: set VAULT_TOKEN")
	}
	return client, nil
}
