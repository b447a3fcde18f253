package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// tls12CipherSuites are the only suites offered when TLS 1.2 is negotiated:
// ECDHE key exchange (forward secrecy) with an AEAD, AES-GCM or
// ChaCha20-Poly1305. TLS 1.3 suites are not configurable in crypto/tls and
// are all AEADs with ephemeral key exchange.
var tls12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLS12CipherSuites returns the cipher suites SecureClientOpts allows when
// a broker negotiates TLS 1.2. Brokers that offer only other suites fail
// the handshake.
func TLS12CipherSuites() []uint16 {
	return append([]uint16(nil), tls12CipherSuites...)
}

// newTLSConfig builds the client TLS configuration. The minimum version is
// TLS 1.2 and the maximum is crypto/tls's default, TLS 1.3, which a Go
// client offers first, so a broker that supports 1.3 negotiates it.
// ServerName may stay empty: kgo.DialTLSConfig then sets it per dial to
// the host of the broker address, and the certificate is verified against
// that name.
func newTLSConfig(cfg *secureConfig, certs *certReloader) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: TLS12CipherSuites(),
		ServerName:   cfg.serverName,
	}
	if cfg.caFile != "" {
		pool, err := loadCAFile(cfg.caFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if certs != nil {
		tc.GetClientCertificate = certs.getClientCertificate
	}
	return tc, nil
}

// loadCAFile reads a PEM bundle and returns a pool with every certificate
// in it. Unlike x509.CertPool.AppendCertsFromPEM, it fails on a CERTIFICATE
// block that does not parse and on a bundle with no certificate at all.
func loadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("kenvelope: CA bundle %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("kenvelope: CA bundle %s contains no PEM CERTIFICATE block", path)
	}
	return pool, nil
}
