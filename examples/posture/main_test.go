package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kenvelope/kenvelope/kafka/posture"
)

const adminPassword = "admin-scram-password"

func runPosture(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// testCerts writes a new CA certificate, and a client certificate and key
// that CA signs, to dir. It returns a broker TLS configuration that
// requires client certificates from that CA. No other key is written.
func testCerts(t *testing.T, dir string) *tls.Config {
	t.Helper()
	caKey, caCert := newCert(t, "posture test CA", nil, nil)
	writeFile(t, filepath.Join(dir, "ca.pem"), &pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})

	clientKey, clientCert := newCert(t, "auditor", caCert, caKey)
	der, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "client.pem"), &pem.Block{Type: "CERTIFICATE", Bytes: clientCert.Raw})
	writeFile(t, filepath.Join(dir, "client-key.pem"), &pem.Block{Type: "PRIVATE KEY", Bytes: der})

	serverKey, serverCert := newCert(t, "broker", caCert, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
}

// newCert returns a key and a certificate for it, self-signed when parent
// is nil, valid for client and server use on 127.0.0.1.
func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func writeFile(t *testing.T, path string, b *pem.Block) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// baselineConfigs is what a compliant broker reports. kfake reports broker
// configs it is given but does not apply these, so the passing cluster below
// also runs what they describe: a TLS listener that requires client
// certificates, SCRAM, and ACLs that deny by default.
var baselineConfigs = map[string]string{
	"listeners":                              "SASL_SSL://127.0.0.1:0", // port 0: kfake picks one
	"listener.name.sasl_ssl.ssl.client.auth": "required",
	"ssl.enabled.protocols":                  "TLSv1.2,TLSv1.3",
	"auto.create.topics.enable":              "false",
	"allow.everyone.if.no.acl.found":         "false",
	"authorizer.class.name":                  "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
}

func TestRunPassingCluster(t *testing.T) {
	dir := t.TempDir()
	serverTLS := testCerts(t, dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.TLS(serverTLS),
		kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "auditor", adminPassword),
		kfake.User("SCRAM-SHA-512", "writer", "writer-password", kfake.ACL{
			Resource: kmsg.ACLResourceTypeTopic, Name: "phi.patients", Pattern: kmsg.ACLResourcePatternTypeLiteral,
			Operation: kmsg.ACLOperationWrite, Allow: true}),
		kfake.BrokerConfigs(baselineConfigs))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.CreateTopic("phi.patients", 3, map[string]string{
		"min.insync.replicas": "2", "retention.ms": "2592000000", "retention.bytes": "10737418240"})
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runPosture(t, "-brokers", strings.Join(c.ListenAddrs(), ","),
		"-ca", filepath.Join(dir, "ca.pem"), "-cert", filepath.Join(dir, "client.pem"), "-key", filepath.Join(dir, "client-key.pem"),
		"-sasl-mechanism", "SCRAM-SHA-512", "-sasl-user", "auditor", "-sasl-password-file", pwFile, "-phi-topics", `^phi\.`)
	if code != 0 {
		t.Fatalf("run exit status = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("report:\n%s", stdout)
	if !strings.Contains(stdout, "0 fail (0 high), 0 unknown") {
		t.Errorf("summary lacks 0 fail and 0 unknown:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, adminPassword) {
		t.Error("output contains the SASL password")
	}
}

func TestRunFailingCluster(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "auditor", adminPassword),
		kfake.BrokerConfigs(map[string]string{"listeners": "PLAINTEXT://127.0.0.1:9092", "auto.create.topics.enable": "true"}),
		kfake.SeedTopics(1, "phi.labs"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv(passwordEnv, adminPassword)
	args := []string{"-brokers", c.ListenAddrs()[0], "-plaintext", "-insecure",
		"-sasl-mechanism", "SCRAM-SHA-512", "-sasl-user", "auditor"}

	stdout, stderr, code := runPosture(t, args...)
	if code != 1 {
		t.Fatalf("run exit status = %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "broker 0 listener PLAINTEXT") {
		t.Errorf("table lacks the PLAINTEXT listener:\n%s", stdout)
	}
	if !strings.Contains(stderr, "insecure broker connection") {
		t.Errorf("stderr lacks the insecure-connection warning:\n%s", stderr)
	}

	stdout, _, code = runPosture(t, append(args, "-json")...)
	if code != 1 {
		t.Errorf("run -json exit status = %d, want 1", code)
	}
	var r posture.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("run -json output is not a report: %v\n%s", err, stdout)
	}
	if len(r.Failures(posture.High)) == 0 {
		t.Errorf("JSON report has no high-severity failure:\n%s", stdout)
	}
}

// TestRunTableAndJSONFile checks that one run prints the table and writes
// the JSON report.
func TestRunTableAndJSONFile(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "auditor", adminPassword),
		kfake.BrokerConfigs(map[string]string{"listeners": "PLAINTEXT://127.0.0.1:9092"}),
		kfake.SeedTopics(1, "phi.labs"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv(passwordEnv, adminPassword)
	jsonFile := filepath.Join(t.TempDir(), "report.json")

	stdout, stderr, code := runPosture(t, "-brokers", c.ListenAddrs()[0], "-plaintext", "-insecure",
		"-sasl-mechanism", "SCRAM-SHA-512", "-sasl-user", "auditor", "-json-file", jsonFile)
	if code != 1 {
		t.Fatalf("run exit status = %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "SEVERITY") || !strings.Contains(stdout, "broker 0 listener PLAINTEXT") {
		t.Errorf("stdout is not the table:\n%s", stdout)
	}
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatalf("read -json-file: %v", err)
	}
	var r posture.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("-json-file is not a report: %v\n%s", err, data)
	}
	if len(r.Failures(posture.High)) == 0 {
		t.Errorf("JSON report has no high-severity failure:\n%s", data)
	}
	if info, err := os.Stat(jsonFile); err == nil && info.Mode().Perm() != 0o600 {
		t.Errorf("-json-file mode = %v, want 0600", info.Mode().Perm())
	}
}

// TestRunUnreadableCluster: a principal without any ACL leaves every
// high-severity check unknown and gets no PHI topic listed. That is not a
// pass.
func TestRunUnreadableCluster(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "admin", adminPassword),
		kfake.User("SCRAM-SHA-512", "nobody", "nobody-password"),
		kfake.BrokerConfigs(map[string]string{"listeners": "PLAINTEXT://127.0.0.1:9092"}),
		kfake.SeedTopics(1, "phi.labs"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv(passwordEnv, "nobody-password")
	args := []string{"-brokers", c.ListenAddrs()[0], "-plaintext", "-insecure",
		"-sasl-mechanism", "SCRAM-SHA-512", "-sasl-user", "nobody"}

	stdout, stderr, code := runPosture(t, args...)
	if code != exitHighUnknown {
		t.Errorf("run exit status = %d for a cluster whose high-severity settings are all unknown, want %d\nstdout:\n%s\nstderr:\n%s",
			code, exitHighUnknown, stdout, stderr)
	}
	if !strings.Contains(stdout, "phi-topics") {
		t.Errorf("table lacks the phi-topics finding:\n%s", stdout)
	}

	if _, _, code := runPosture(t, append(args, "-allow-unknown")...); code != exitPass {
		t.Errorf("run -allow-unknown exit status = %d, want %d", code, exitPass)
	}

	missingDir := filepath.Join(t.TempDir(), "missing", "report.json")
	_, stderr, code = runPosture(t, append(args, "-json-file", missingDir)...)
	if code != exitError || !strings.Contains(stderr, "-json-file") {
		t.Errorf("run -json-file in a missing directory = %d, stderr %q; want %d and a message naming -json-file", code, stderr, exitError)
	}
}

// TestRunWrongPassword checks that a failed SASL login prints neither the
// password nor the command name twice.
func TestRunWrongPassword(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "auditor", adminPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const wrong = "wrong-password-7f3a"
	t.Setenv(passwordEnv, wrong)
	stdout, stderr, code := runPosture(t, "-brokers", c.ListenAddrs()[0], "-plaintext", "-insecure",
		"-sasl-mechanism", "SCRAM-SHA-512", "-sasl-user", "auditor", "-timeout", "3s")
	if code != exitError {
		t.Errorf("run with a wrong password exit status = %d, want %d", code, exitError)
	}
	if strings.Contains(stdout+stderr, wrong) {
		t.Error("output contains the SASL password")
	}
	if strings.Contains(stderr, "posture: posture:") {
		t.Errorf("stderr repeats the command name: %q", stderr)
	}
}

func TestRunBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown SASL mechanism", []string{"-sasl-mechanism", "GSSAPI", "-sasl-user", "u"}, "unknown SASL mechanism"},
		{"plaintext without insecure", []string{"-plaintext"}, "DisableTLS requires InsecureForLocalDevelopment"},
		{"missing CA bundle", []string{"-ca", "/nonexistent/ca.pem"}, "/nonexistent/ca.pem"},
		{"invalid PHI pattern", []string{"-phi-topics", "("}, "-phi-topics"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runPosture(t, tc.args...)
			if code != 2 {
				t.Errorf("run exit status = %d, want 2", code)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.want)
			}
		})
	}
}
