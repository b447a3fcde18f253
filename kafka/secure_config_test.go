package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
)

func ExampleSecureClientOpts() {
	password, err := os.ReadFile("/etc/kafka/sasl/claims-writer")
	if err != nil {
		log.Fatal(err)
	}
	secure, err := kafka.SecureClientOpts(
		kafka.CAFile("/etc/kafka/tls/ca.pem"),
		kafka.ClientCertFiles("/etc/kafka/tls/client.pem", "/etc/kafka/tls/client-key.pem"),
		kafka.SASL(kafka.SASLScramSHA512, "claims-writer", strings.TrimSpace(string(password))),
		kafka.WithSecureLogger(slog.Default()),
	)
	if err != nil {
		log.Fatal(err) // names the file or setting at fault
	}
	cl, err := kgo.NewClient(append(secure, kgo.SeedBrokers("kafka-1.internal:9093"))...)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
}

func TestSecureClientOptsBadInput(t *testing.T) {
	pki := newTestPKI(t)
	certFile, keyFile, _ := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	otherCert, _, _ := pki.clientFiles("other", time.Now().Add(48*time.Hour))
	expiredCert, expiredKey, _ := pki.clientFiles("expired", time.Now().Add(-time.Minute))
	missing := filepath.Join(pki.dir, "missing.pem")
	emptyCA := filepath.Join(pki.dir, "empty-ca.pem")
	writePEM(t, emptyCA, &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	secret := "do-not-print-this-password"

	tests := []struct {
		name    string
		opts    []kafka.SecureOpt
		wantErr error  // nil: only the message is checked
		naming  string // text the message must contain
	}{
		{"missing cert file", []kafka.SecureOpt{kafka.ClientCertFiles(missing, keyFile)}, os.ErrNotExist, missing},
		{"missing key file", []kafka.SecureOpt{kafka.ClientCertFiles(certFile, missing)}, os.ErrNotExist, missing},
		{"unreadable cert file", []kafka.SecureOpt{kafka.ClientCertFiles(pki.dir, keyFile)}, nil, pki.dir},
		{"cert file without certificate", []kafka.SecureOpt{kafka.ClientCertFiles(keyFile, keyFile)}, nil, keyFile},
		{"key file without key", []kafka.SecureOpt{kafka.ClientCertFiles(certFile, certFile)}, nil, certFile},
		{"key of another certificate", []kafka.SecureOpt{kafka.ClientCertFiles(otherCert, keyFile)}, kafka.ErrKeyMismatch, otherCert},
		{"expired certificate", []kafka.SecureOpt{kafka.ClientCertFiles(expiredCert, expiredKey)}, kafka.ErrCertificateExpired, expiredCert},
		{"missing CA bundle", []kafka.SecureOpt{kafka.CAFile(missing)}, os.ErrNotExist, missing},
		{"CA bundle without certificates", []kafka.SecureOpt{kafka.CAFile(emptyCA)}, nil, emptyCA},
		{"unknown SASL mechanism", []kafka.SecureOpt{kafka.SASL("SCRAM-SHA-1", "u", secret)}, kafka.ErrUnknownSASLMechanism, "SCRAM-SHA-1"},
		{"PLAIN without insecure option", []kafka.SecureOpt{kafka.SASL("plain", "u", secret)}, kafka.ErrInsecureConfig, "InsecureForLocalDevelopment"},
		{"DisableTLS without insecure option", []kafka.SecureOpt{kafka.DisableTLS()}, kafka.ErrInsecureConfig, "DisableTLS"},
		{"DisableTLS with client certificate", []kafka.SecureOpt{kafka.DisableTLS(), kafka.InsecureForLocalDevelopment(), kafka.ClientCertFiles(certFile, keyFile)}, nil, "ClientCertFiles"},
		{"SASL without password", []kafka.SecureOpt{kafka.SASL(kafka.SASLScramSHA512, "u", "")}, nil, "password"},
		{"one certificate path", []kafka.SecureOpt{kafka.ClientCertFiles(certFile, "")}, nil, "ClientCertFiles"},
		{"negative expiry warning", []kafka.SecureOpt{kafka.CertExpiryWarning(-time.Hour)}, nil, "CertExpiryWarning"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.SecureClientOpts(tc.opts...)
			if err == nil {
				t.Fatal("SecureClientOpts() err = nil, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("SecureClientOpts() err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.naming) {
				t.Errorf("SecureClientOpts() err = %q, want it to name %q", err, tc.naming)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("SecureClientOpts() err = %q contains the SASL password", err)
			}
		})
	}
}

// pingTLS starts a kfake broker with server TLS config sc and reports
// whether a client built with opts completes a request.
func pingTLS(t *testing.T, sc *tls.Config, opts ...kafka.SecureOpt) error {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(sc))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secure, err := kafka.SecureClientOpts(opts...)
	if err != nil {
		t.Fatalf("SecureClientOpts() err = %v", err)
	}
	cl, err := kgo.NewClient(append(secure, kgo.SeedBrokers(c.ListenAddrs()...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

func TestSecureClientTLSPolicy(t *testing.T) {
	pki := newTestPKI(t)
	certFile, keyFile, _ := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	client := []kafka.SecureOpt{kafka.CAFile(pki.caFile), kafka.ClientCertFiles(certFile, keyFile)}
	otherCA := newTestPKI(t)

	tests := []struct {
		name    string
		server  func(*tls.Config)
		opts    []kafka.SecureOpt
		version uint16 // negotiated version, 0 when the handshake must fail
	}{
		{"TLS 1.3", func(*tls.Config) {}, client, tls.VersionTLS13},
		{"TLS 1.2 ECDHE AES-GCM", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
		}, client, tls.VersionTLS12},
		{"TLS 1.2 ECDHE ChaCha20", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
		}, client, tls.VersionTLS12},
		{"TLS 1.2 CBC suite only", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		}, client, 0},
		{"TLS 1.1 only", func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
		}, client, 0},
		{"broker certificate from another CA", func(*tls.Config) {},
			[]kafka.SecureOpt{kafka.CAFile(otherCA.caFile), kafka.ClientCertFiles(certFile, keyFile)}, 0},
		{"no client certificate", func(*tls.Config) {}, []kafka.SecureOpt{kafka.CAFile(pki.caFile)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := &serials{}
			sc := pki.serverTLS(seen)
			sc.MinVersion = 0
			tc.server(sc)
			err := pingTLS(t, sc, tc.opts...)
			switch {
			case tc.version == 0 && err == nil:
				t.Error("Ping() err = nil, want a handshake failure")
			case tc.version == 0:
				t.Logf("Ping() err = %v", err)
			case err != nil:
				t.Errorf("Ping() err = %v, want nil", err)
			case seen.lastVersion() != tc.version:
				t.Errorf("negotiated %s, want %s", tls.VersionName(seen.lastVersion()), tls.VersionName(tc.version))
			}
		})
	}
}

func TestSecureClientServerName(t *testing.T) {
	pki := newTestPKI(t)
	certFile, keyFile, _ := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	sc := pki.serverTLS(nil, "broker.kenvelope.test") // no IP address in the certificate
	base := []kafka.SecureOpt{kafka.CAFile(pki.caFile), kafka.ClientCertFiles(certFile, keyFile)}

	if err := pingTLS(t, sc, base...); err == nil {
		t.Error("Ping() by IP address err = nil, want a name mismatch")
	}
	if err := pingTLS(t, sc, append(base, kafka.ServerName("broker.kenvelope.test"))...); err != nil {
		t.Errorf("Ping() with ServerName err = %v, want nil", err)
	}
}

// connectCounter counts successful broker connections, to compare with the
// warnings InsecureForLocalDevelopment logs.
type connectCounter struct{ n atomic.Int64 }

func (c *connectCounter) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		c.n.Add(1)
	}
}

func TestInsecureForLocalDevelopment(t *testing.T) {
	const password = "dev-plain-password"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser(kafka.SASLPlain, "dev", password), kfake.SeedTopics(1, secureTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var logs logBuffer
	var connects connectCounter
	opts := []kafka.SecureOpt{
		kafka.DisableTLS(), kafka.SASL(kafka.SASLPlain, "dev", password),
		kafka.InsecureForLocalDevelopment(), kafka.WithSecureLogger(logs.logger()),
	}

	cl := newSecureClient(t, c, opts, kgo.WithHooks(&connects))
	produceN(t, cl, 0, 3)
	cl.Close()

	out := logs.String()
	warnings := strings.Count(out, "insecure broker connection")
	if n := connects.n.Load(); n == 0 || int64(warnings) != n {
		t.Errorf("%d insecure-connection warnings for %d connections, want one per connection:\n%s", warnings, n, out)
	}
	if !strings.Contains(out, "no TLS, SASL PLAIN") {
		t.Errorf("warning does not name what is insecure:\n%s", out)
	}
	if strings.Contains(out, password) {
		t.Errorf("log contains the SASL password:\n%s", out)
	}
}

// TestCAFileDamagedPEM covers bundles that a loop over pem.Decode would
// accept by skipping the damaged block.
func TestCAFileDamagedPEM(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(newTestPKI(t).caFile)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(newTestPKI(t).caFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(other), "\n")
	lines[2] = "!!!!" + lines[2][4:] // not base64
	corrupt := strings.Join(lines, "\n")
	withoutEnd := strings.Join(strings.Split(string(good), "\n")[:3], "\n") + "\n"
	unparseable := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})

	tests := []struct {
		name string
		data string
		want string // text the error must contain; empty for no error
	}{
		{"corrupt base64 in second block", string(good) + corrupt, "line "},
		{"second block without END line", string(good) + withoutEnd, "no END line"},
		{"END line without BEGIN", string(good) + lines[len(lines)-2] + "\n", "outside a block"},
		{"block whose END line is missing", withoutEnd + string(other), "malformed PEM block"},
		{"certificate that does not parse", string(good) + string(unparseable), "certificate 2"},
		{"comments around blocks", "# clinic CA\n" + string(good) + "subject=CN=other\n" + string(other), ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTestFile(t, filepath.Join(dir, fmt.Sprintf("bundle-%d.pem", i)), []byte(tc.data))
			_, err := kafka.SecureClientOpts(kafka.CAFile(path))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("SecureClientOpts(CAFile) err = %v, want nil", err)
			case tc.want == "":
				return
			case err == nil:
				t.Fatalf("SecureClientOpts(CAFile) err = nil, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("SecureClientOpts(CAFile) err = %q, want it to name %s", err, path)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SecureClientOpts(CAFile) err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCertChainCorruptIntermediate(t *testing.T) {
	pki := newTestPKI(t)
	certFile, keyFile, cert := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	junk := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER at all")})
	writeTestFile(t, certFile, append(certPEM(cert), junk...))

	_, err := kafka.SecureClientOpts(kafka.CAFile(pki.caFile), kafka.ClientCertFiles(certFile, keyFile))
	if err == nil {
		t.Fatalf("SecureClientOpts(chain with an unparseable intermediate) err = nil, want an error naming %s", certFile)
	}
	if !strings.Contains(err.Error(), certFile) || !strings.Contains(err.Error(), "certificate 2") {
		t.Errorf("SecureClientOpts() err = %q, want it to name %s and certificate 2", err, certFile)
	}
}

// TestSecureClientKeyTypes covers key formats and algorithms other than
// the PKCS #8 P-256 key of the other tests, and a chain with an
// intermediate CA, over TLS 1.3 and 1.2.
func TestSecureClientKeyTypes(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	nb, na := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	rsaPKCS8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	// The named curve secp384r1, as openssl ecparam writes it.
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 5, 43, 129, 4, 0, 34}})

	interKey := newKey(t)
	inter := signCert(t, "intermediate", &interKey.PublicKey, pki.ca, pki.caKey, true, nb, na)
	leafKey := newKey(t)
	leaf := signCert(t, "writer", &leafKey.PublicKey, inter, interKey, false, nb, na)

	tests := []struct {
		name  string
		chain []byte
		key   []byte
	}{
		{"RSA PKCS1", certPEM(signCert(t, "rsa1", &rsaKey.PublicKey, pki.ca, pki.caKey, false, nb, na)),
			pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})},
		{"RSA PKCS8", certPEM(signCert(t, "rsa8", &rsaKey.PublicKey, pki.ca, pki.caKey, false, nb, na)),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaPKCS8})},
		{"EC SEC1 with parameters block", certPEM(signCert(t, "ec", &ecKey.PublicKey, pki.ca, pki.caKey, false, nb, na)),
			append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...)},
		{"Ed25519", certPEM(signCert(t, "ed", edKey.Public(), pki.ca, pki.caKey, false, nb, na)),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edPKCS8})},
		{"leaf and intermediate", append(certPEM(leaf), certPEM(inter)...), pem.EncodeToMemory(keyBlock(t, leafKey))},
	}
	for _, tc := range tests {
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(tc.name+" "+tls.VersionName(v), func(t *testing.T) {
				certFile := writeTestFile(t, filepath.Join(dir, "c.pem"), tc.chain)
				keyFile := writeTestFile(t, filepath.Join(dir, "k.pem"), tc.key)
				sc := pki.serverTLS(nil)
				sc.MaxVersion = v
				if err := pingTLS(t, sc, kafka.CAFile(pki.caFile), kafka.ClientCertFiles(certFile, keyFile)); err != nil {
					t.Errorf("Ping() err = %v, want nil", err)
				}
			})
		}
	}
}

// TestSecureClientOptsBadFiles covers inputs that must be errors when the
// options are built, naming the file, without key material or the password
// in the message.
func TestSecureClientOptsBadFiles(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	certFile, keyFile, _ := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	keyB64 := base64.StdEncoding.EncodeToString(block.Bytes)

	legacy := writeTestFile(t, filepath.Join(dir, "legacy.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: block.Bytes}))
	pkcs8enc := writeTestFile(t, filepath.Join(dir, "enc8.pem"), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: block.Bytes}))
	truncated := writeTestFile(t, filepath.Join(dir, "trunc.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes[:len(block.Bytes)-7]}))
	halfKey := writeTestFile(t, filepath.Join(dir, "half-key.pem"), keyPEM[:len(keyPEM)/2])
	derCA := writeTestFile(t, filepath.Join(dir, "ca.der"), pki.ca.Raw)
	k := newKey(t)
	future := pki.issue("writer", k, time.Now().Add(time.Hour), time.Now().Add(48*time.Hour), false)
	futureCert := writeTestFile(t, filepath.Join(dir, "future.pem"), certPEM(future))
	futureKey := writeTestFile(t, filepath.Join(dir, "future-key.pem"), pem.EncodeToMemory(keyBlock(t, k)))

	tests := []struct {
		name    string
		opts    []kafka.SecureOpt
		wantErr error
		naming  string
	}{
		{"legacy encrypted PEM key", []kafka.SecureOpt{kafka.ClientCertFiles(certFile, legacy)}, nil, legacy},
		{"PKCS8 encrypted key", []kafka.SecureOpt{kafka.ClientCertFiles(certFile, pkcs8enc)}, nil, pkcs8enc},
		{"truncated key", []kafka.SecureOpt{kafka.ClientCertFiles(certFile, truncated)}, nil, truncated},
		{"half-written key file", []kafka.SecureOpt{kafka.ClientCertFiles(certFile, halfKey)}, nil, halfKey},
		{"DER CA file", []kafka.SecureOpt{kafka.CAFile(derCA)}, nil, derCA},
		{"NotBefore in the future", []kafka.SecureOpt{kafka.ClientCertFiles(futureCert, futureKey)}, kafka.ErrCertificateNotYetValid, futureCert},
		{"mechanism with a space", []kafka.SecureOpt{kafka.SASL(" SCRAM-SHA-512", "u", "pw-secret")}, kafka.ErrUnknownSASLMechanism, "SCRAM-SHA-512"},
		{"empty password", []kafka.SecureOpt{kafka.SASL(kafka.SASLScramSHA512, "u", "")}, nil, "password"},
		{"PLAIN over TLS without insecure", []kafka.SecureOpt{kafka.SASL("Plain", "u", "pw-secret")}, kafka.ErrInsecureConfig, "PLAIN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.SecureClientOpts(tc.opts...)
			if err == nil {
				t.Fatal("SecureClientOpts() err = nil, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("SecureClientOpts() err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.naming) {
				t.Errorf("SecureClientOpts() err = %q, want it to name %q", err, tc.naming)
			}
			if strings.Contains(err.Error(), keyB64[:16]) || strings.Contains(err.Error(), "pw-secret") {
				t.Errorf("SecureClientOpts() err = %q contains key material or the password", err)
			}
		})
	}
}
