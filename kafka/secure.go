package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanism names accepted by SASL.
const (
	// SASLScramSHA512 is SCRAM-SHA-512 (RFC 5802 with SHA-512), the
	// mechanism the baseline requires. It is allowed only over TLS.
	SASLScramSHA512 = "SCRAM-SHA-512"
	// SASLPlain sends the password itself; it is allowed only together
	// with InsecureForLocalDevelopment.
	SASLPlain = "PLAIN"
)

// DefaultCertExpiryWarning is how long before its NotAfter a client
// certificate is logged as expiring soon, unless CertExpiryWarning is set.
const DefaultCertExpiryWarning = 24 * time.Hour

var (
	// ErrInsecureConfig is returned by SecureClientOpts for a setting
	// that sends data or credentials without TLS, or authenticates with
	// PLAIN, when InsecureForLocalDevelopment is not given.
	ErrInsecureConfig = errors.New("kenvelope: insecure client configuration")

	// ErrCertificateExpired is returned for a client certificate past its
	// NotAfter: by SecureClientOpts, and by the TLS handshake when the
	// certificate in use has expired since. The broker never receives it.
	ErrCertificateExpired = errors.New("kenvelope: client certificate expired")

	// ErrCertificateNotYetValid is returned for a client certificate
	// before its NotBefore, in the same places as ErrCertificateExpired.
	ErrCertificateNotYetValid = errors.New("kenvelope: client certificate not yet valid")

	// ErrKeyMismatch is returned by SecureClientOpts when the private key
	// file does not hold the key of the client certificate.
	ErrKeyMismatch = errors.New("kenvelope: client private key does not match the certificate")

	// ErrUnknownSASLMechanism is returned by SecureClientOpts for a SASL
	// mechanism other than SASLScramSHA512 and SASLPlain.
	ErrUnknownSASLMechanism = errors.New("kenvelope: unknown SASL mechanism")
)

// SecureOpt configures SecureClientOpts.
type SecureOpt interface{ applySecure(*secureConfig) }

type secureOptFunc func(*secureConfig)

func (f secureOptFunc) applySecure(c *secureConfig) { f(c) }

type secureConfig struct {
	caFile        string
	serverName    string
	certFile      string
	keyFile       string
	clientCert    bool
	expiryWarning time.Duration
	mechanism     string
	user          string
	password      string
	disableTLS    bool
	insecure      bool
	logger        *slog.Logger
}

// CAFile sets the PEM bundle of CA certificates that broker certificates
// must chain to. Default: the system roots.
func CAFile(path string) SecureOpt { return secureOptFunc(func(c *secureConfig) { c.caFile = path }) }

// ServerName sets the name broker certificates are verified against.
// Default: the host part of each broker address as dialed.
func ServerName(name string) SecureOpt {
	return secureOptFunc(func(c *secureConfig) { c.serverName = name })
}

// ClientCertFiles enables mutual TLS with the PEM certificate chain (leaf
// first) in certFile and the unencrypted PEM private key in keyFile. Both
// files are reloaded when they change, without restarting the client; see
// SecureClientOpts. Default: no client certificate.
func ClientCertFiles(certFile, keyFile string) SecureOpt {
	return secureOptFunc(func(c *secureConfig) { c.certFile, c.keyFile, c.clientCert = certFile, keyFile, true })
}

// CertExpiryWarning sets how long before its NotAfter a client certificate
// is logged as a warning, once per certificate. The certificate is checked
// at every TLS handshake. Because a client can keep a connection open for
// longer than d, one goroutine per kgo.Client also checks it every d/4,
// but at least hourly and at most every 100 ms. The goroutine starts in
// kgo.NewClient and ends before Client.Close returns. It also reloads
// renewed files and logs an error once the certificate in use has expired.
// Zero turns the warning and the goroutine off. Default
// DefaultCertExpiryWarning.
func CertExpiryWarning(d time.Duration) SecureOpt {
	return secureOptFunc(func(c *secureConfig) { c.expiryWarning = d })
}

// SASL authenticates with mechanism (SASLScramSHA512, or SASLPlain with
// InsecureForLocalDevelopment; case does not matter) as user. The password
// is kept only to compute the SASL response and is never logged.
// Default: no SASL.
func SASL(mechanism, user, password string) SecureOpt {
	return secureOptFunc(func(c *secureConfig) { c.mechanism, c.user, c.password = mechanism, user, password })
}

// DisableTLS connects without TLS. It requires InsecureForLocalDevelopment.
// Default: TLS.
func DisableTLS() SecureOpt { return secureOptFunc(func(c *secureConfig) { c.disableTLS = true }) }

// InsecureForLocalDevelopment allows DisableTLS and SASL PLAIN, for a
// broker on a developer's machine. Every broker connection a client
// configured with it opens is logged as a warning. Default: off.
func InsecureForLocalDevelopment() SecureOpt {
	return secureOptFunc(func(c *secureConfig) { c.insecure = true })
}

// WithSecureLogger sets the logger for certificate reloads, expiry
// warnings and insecure connections. Default: discard.
func WithSecureLogger(l *slog.Logger) SecureOpt {
	return secureOptFunc(func(c *secureConfig) { c.logger = l })
}

// SecureClientOpts returns franz-go options that connect with TLS 1.2 or
// 1.3 and verify the broker certificate against the CA bundle and server
// name. TLS 1.3 is preferred, and TLS 1.2 is limited to ECDHE with AES-GCM
// or ChaCha20-Poly1305 (see TLS12CipherSuites). The client authenticates
// with a client certificate, SASL SCRAM-SHA-512, or both. Pass the result to
// kgo.NewClient together with the seed brokers. A later kgo.DialTLSConfig,
// kgo.Dialer or kgo.SASL option would replace what these set.
//
// Every file is read and checked here, so a missing or unreadable file, a
// CA bundle without certificates, a key that does not match its
// certificate, an expired certificate or an unknown SASL mechanism is an
// error now, naming the file or setting. A CA bundle or certificate chain
// with a damaged PEM block, or a CERTIFICATE block that does not parse, is
// an error too. The client certificate is then reloaded at TLS handshakes
// when its files change (see ClientCertFiles): at each handshake both files
// are checked with a stat call, which costs far less than the handshake
// itself. With a client certificate, the options include a kgo hook that
// checks its expiry between handshakes (see CertExpiryWarning).
func SecureClientOpts(opts ...SecureOpt) ([]kgo.Opt, error) {
	cfg := secureConfig{expiryWarning: DefaultCertExpiryWarning, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o.applySecure(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	var out []kgo.Opt
	if !cfg.disableTLS {
		tlsOpts, err := cfg.tlsOpts()
		if err != nil {
			return nil, err
		}
		out = append(out, tlsOpts...)
	}
	if cfg.mechanism != "" {
		out = append(out, kgo.SASL(cfg.saslMechanism()))
	}
	if cfg.insecure {
		out = append(out, kgo.WithHooks(insecureConnectWarning{logger: cfg.logger, reasons: cfg.insecureReasons()}))
	}
	return out, nil
}

func (c *secureConfig) tlsOpts() ([]kgo.Opt, error) {
	var certs *certReloader
	if c.clientCert {
		var err error
		certs, err = newCertReloader(c.certFile, c.keyFile, c.expiryWarning, c.logger)
		if err != nil {
			return nil, err
		}
	}
	tc, err := newTLSConfig(c, certs)
	if err != nil {
		return nil, err
	}

	out := []kgo.Opt{kgo.DialTLSConfig(tc)}
	if certs != nil && c.expiryWarning > 0 {
		out = append(out, kgo.WithHooks(newExpiryWatch(certs, expiryCheckInterval(c.expiryWarning))))
	}
	return out, nil
}

// validate checks the rules that span options; file contents are checked
// when the TLS configuration is built.
func (c *secureConfig) validate() error {
	if c.logger == nil {
		return errors.New("kenvelope: WithSecureLogger: logger is nil")
	}
	if c.clientCert && (c.certFile == "" || c.keyFile == "") {
		return errors.New("kenvelope: ClientCertFiles: certificate and key file paths must both be set")
	}
	if c.expiryWarning < 0 {
		return fmt.Errorf("kenvelope: CertExpiryWarning %v is negative", c.expiryWarning)
	}
	if err := c.validateSASL(); err != nil {
		return err
	}
	if !c.disableTLS {
		return nil
	}
	if !c.insecure {
		return fmt.Errorf("%w: DisableTLS requires InsecureForLocalDevelopment", ErrInsecureConfig)
	}
	if c.caFile != "" || c.serverName != "" || c.clientCert {
		return errors.New("kenvelope: DisableTLS conflicts with CAFile, ServerName and ClientCertFiles")
	}
	return nil
}

func (c *secureConfig) validateSASL() error {
	if c.mechanism == "" && c.user == "" && c.password == "" {
		return nil
	}
	c.mechanism = strings.ToUpper(c.mechanism)
	switch c.mechanism {
	case SASLScramSHA512:
	case SASLPlain:
		if !c.insecure {
			return fmt.Errorf("%w: SASL mechanism PLAIN requires InsecureForLocalDevelopment; use %s", ErrInsecureConfig, SASLScramSHA512)
		}
	default:
		return fmt.Errorf("%w %q: use %s, or %s with InsecureForLocalDevelopment", ErrUnknownSASLMechanism, c.mechanism, SASLScramSHA512, SASLPlain)
	}
	if c.user == "" || c.password == "" {
		return fmt.Errorf("kenvelope: SASL %s: user and password must both be set", c.mechanism)
	}
	return nil
}

func (c *secureConfig) saslMechanism() sasl.Mechanism {
	if c.mechanism == SASLPlain {
		return plain.Auth{User: c.user, Pass: c.password}.AsMechanism()
	}
	return scram.Auth{User: c.user, Pass: c.password}.AsSha512Mechanism()
}

func (c *secureConfig) insecureReasons() string {
	var reasons []string
	if c.disableTLS {
		reasons = append(reasons, "no TLS")
	}
	if c.mechanism == SASLPlain {
		reasons = append(reasons, "SASL PLAIN")
	}
	if len(reasons) == 0 {
		return "InsecureForLocalDevelopment set, no insecure setting in use"
	}
	return strings.Join(reasons, ", ")
}

// insecureConnectWarning logs every broker connection of a client built
// with InsecureForLocalDevelopment.
type insecureConnectWarning struct {
	logger  *slog.Logger
	reasons string
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h insecureConnectWarning) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		return
	}
	h.logger.Warn("kenvelope: insecure broker connection, for local development only",
		"node", meta.NodeID, "host", meta.Host, "port", meta.Port, "insecure", h.reasons)
}
