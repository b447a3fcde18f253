package kafka_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
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
