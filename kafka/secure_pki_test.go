package kafka_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testPKI is a CA made for one test: keys are generated in memory and
// written only to the test's temporary directory.
type testPKI struct {
	t      *testing.T
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	serial int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{t: t, dir: t.TempDir(), caKey: newKey(t)}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kenvelope test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caFile = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.caFile, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue signs a certificate for key with the given validity; server
// certificates are for 127.0.0.1 plus dnsNames.
func (p *testPKI) issue(cn string, key *ecdsa.PrivateKey, notBefore, notAfter time.Time, server bool, dnsNames ...string) *x509.Certificate {
	p.t.Helper()
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000 + p.serial),
		Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: []string{"ServiceUsers"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = dnsNames
		if len(dnsNames) == 0 {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// clientFiles writes a client certificate valid until notAfter and its key
// to name.pem and name-key.pem, replacing any earlier pair by rename, and
// returns the paths and the certificate.
func (p *testPKI) clientFiles(name string, notAfter time.Time) (certFile, keyFile string, cert *x509.Certificate) {
	p.t.Helper()
	key := newKey(p.t)
	cert = p.issue(name, key, time.Now().Add(-time.Hour), notAfter, false)
	certFile = filepath.Join(p.dir, name+".pem")
	keyFile = filepath.Join(p.dir, name+"-key.pem")
	writePEM(p.t, keyFile, keyBlock(p.t, key))
	writePEM(p.t, certFile, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return certFile, keyFile, cert
}

func keyBlock(t *testing.T, key *ecdsa.PrivateKey) *pem.Block {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

// writePEM replaces path atomically, as certificate renewal tools do.
func writePEM(t *testing.T, path string, blocks ...*pem.Block) {
	t.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// serverTLS returns a broker TLS configuration that requires a client
// certificate from this CA, and records the serial of every client
// certificate it accepts.
func (p *testPKI) serverTLS(seen *serials, dnsNames ...string) *tls.Config {
	p.t.Helper()
	key := newKey(p.t)
	cert := p.issue("broker", key, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true, dnsNames...)
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if seen != nil && len(cs.PeerCertificates) > 0 {
				seen.add(cs.PeerCertificates[0].SerialNumber.Int64(), cs.Version)
			}
			return nil
		},
	}
}

// serials records client certificate serials and TLS versions a test
// broker accepted.
type serials struct {
	mu       sync.Mutex
	serials  []int64
	versions []uint16
}

func (s *serials) add(serial int64, version uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serials = append(s.serials, serial)
	s.versions = append(s.versions, version)
}

func (s *serials) has(serial int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.serials {
		if v == serial {
			return true
		}
	}
	return false
}

func (s *serials) lastVersion() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.versions) == 0 {
		return 0
	}
	return s.versions[len(s.versions)-1]
}

// signCert signs a client certificate, or a CA certificate when isCA, for
// pub with parent and parentKey.
func signCert(t *testing.T, cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage, tmpl.ExtKeyUsage = true, true, x509.KeyUsageCertSign, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeTestFile writes data to path in place, without the rename that
// writePEM does, and returns path.
func writeTestFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
