package kafka

import (
	"bytes"
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
// in it. Unlike x509.CertPool.AppendCertsFromPEM, it fails on a damaged PEM
// block (see pemBlocks), on a CERTIFICATE block that does not parse and on
// a bundle with no certificate at all.
func loadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: read CA bundle: %w", err)
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: CA bundle %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for _, block := range blocks {
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
		return nil, fmt.Errorf("kenvelope: CA bundle %s contains no PEM CERTIFICATE block (convert a DER file to PEM)", path)
	}
	return pool, nil
}

var (
	pemDashes = []byte("-----")
	pemBegin  = []byte("-----BEGIN ")
	pemEnd    = []byte("-----END ")
)

// pemBlocks decodes every PEM block in data, in order. A loop over
// pem.Decode silently skips a block whose base64 or headers do not decode
// and goes on to the next one. pemBlocks instead returns an error naming
// the line of such a block. Text outside the blocks is ignored, because
// RFC 7468 section 2 allows it and system CA bundles carry comments. The
// exception is text that contains "-----", because a boundary outside a
// well-formed block means a block is damaged. Errors name line numbers
// only, never file content.
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	line := 1
	for {
		i := bytes.Index(data, pemDashes)
		if i < 0 {
			return blocks, nil
		}
		line += bytes.Count(data[:i], []byte("\n"))
		if (i > 0 && data[i-1] != '\n') || !bytes.HasPrefix(data[i:], pemBegin) {
			return nil, fmt.Errorf("line %d: PEM boundary outside a block", line)
		}
		data = data[i:]

		end := pemBlockEnd(data)
		if end < 0 {
			return nil, fmt.Errorf("line %d: PEM block has no END line", line)
		}
		block, rest := pem.Decode(data[:end])
		if block == nil || len(bytes.TrimSpace(rest)) > 0 || bytes.Count(data[:end], pemBegin) > 1 {
			return nil, fmt.Errorf("line %d: malformed PEM block (invalid base64, headers or END line)", line)
		}
		blocks = append(blocks, block)
		line += bytes.Count(data[:end], []byte("\n"))
		data = data[end:]
	}
}

// pemBlockEnd returns the index just past the line of the first END
// boundary in data, or -1 when there is none.
func pemBlockEnd(data []byte) int {
	i := bytes.Index(data, pemEnd)
	if i < 0 {
		return -1
	}
	eol := bytes.IndexByte(data[i:], '\n')
	if eol < 0 {
		return len(data)
	}
	return i + eol + 1
}
