package kafka_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kenvelope/kenvelope/kafka"
)

const (
	secureTopic    = "phi.patients"
	writerPassword = "writer-scram-password"
)

// logBuffer is a log destination that tests read while clients write.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// newSecureCluster starts a kfake broker with a TLS listener that requires
// a client certificate from pki, SCRAM-SHA-512 users and ACLs that deny by
// default: "writer" may produce to and consume secureTopic, "stranger" has
// no ACL.
//
// NOTE: kfake takes the principal only from SASL (User:ANONYMOUS without
// it) and never from the client certificate, so ACLs here name SCRAM users.
// The certificate-to-principal mapping is tested on its own in
// principal_test.go.
func newSecureCluster(t *testing.T, pki *testPKI, seen *serials) *kfake.Cluster {
	t.Helper()
	allow := func(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: rt, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.TLS(pki.serverTLS(seen)),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser(kafka.SASLScramSHA512, "admin", "admin-scram-password"),
		kfake.User(kafka.SASLScramSHA512, "writer", writerPassword,
			allow(kmsg.ACLResourceTypeTopic, secureTopic, kmsg.ACLOperationWrite),
			allow(kmsg.ACLResourceTypeTopic, secureTopic, kmsg.ACLOperationRead),
			allow(kmsg.ACLResourceTypeTopic, secureTopic, kmsg.ACLOperationDescribe),
			allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationIdempotentWrite)),
		kfake.User(kafka.SASLScramSHA512, "stranger", "stranger-scram-password"),
		kfake.SeedTopics(1, secureTopic),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newSecureClient(t *testing.T, c *kfake.Cluster, opts []kafka.SecureOpt, kopts ...kgo.Opt) *kgo.Client {
	t.Helper()
	secure, err := kafka.SecureClientOpts(opts...)
	if err != nil {
		t.Fatalf("SecureClientOpts() err = %v", err)
	}
	all := append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, secure...)
	cl, err := kgo.NewClient(append(all, kopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produceN(t *testing.T, cl *kgo.Client, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := from; i < from+n; i++ {
		r := &kgo.Record{Topic: secureTopic, Value: fmt.Appendf(nil, "record-%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("ProduceSync(record %d) err = %v", i, err)
		}
	}
}

// consumeN reads secureTopic from the start and checks it holds exactly
// records 0 to n-1 in order.
func consumeN(t *testing.T, c *kfake.Cluster, opts []kafka.SecureOpt, n int) {
	t.Helper()
	cl := newSecureClient(t, c, opts, kgo.ConsumeTopics(secureTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("PollFetches() after %d records err = %v", len(got), err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got {
		if want := fmt.Sprintf("record-%d", i); v != want {
			t.Fatalf("record %d = %q, want %q", i, v, want)
		}
	}
}

func writerOpts(pki *testPKI, certFile, keyFile string, more ...kafka.SecureOpt) []kafka.SecureOpt {
	return append([]kafka.SecureOpt{
		kafka.CAFile(pki.caFile),
		kafka.ClientCertFiles(certFile, keyFile),
		kafka.SASL(kafka.SASLScramSHA512, "writer", writerPassword),
	}, more...)
}

func TestSecureClientProduceConsume(t *testing.T) {
	pki := newTestPKI(t)
	seen := &serials{}
	c := newSecureCluster(t, pki, seen)
	certFile, keyFile, cert := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	opts := writerOpts(pki, certFile, keyFile)

	produceN(t, newSecureClient(t, c, opts), 0, 5)
	consumeN(t, c, opts, 5)

	if !seen.has(cert.SerialNumber.Int64()) {
		t.Errorf("broker never received client certificate serial %d", cert.SerialNumber)
	}
	if v := seen.lastVersion(); v != tls.VersionTLS13 {
		t.Errorf("negotiated TLS version = %s, want TLS 1.3", tls.VersionName(v))
	}
}

func TestSecureClientNoACL(t *testing.T) {
	pki := newTestPKI(t)
	c := newSecureCluster(t, pki, nil)
	certFile, keyFile, _ := pki.clientFiles("stranger", time.Now().Add(48*time.Hour))
	cl := newSecureClient(t, c, []kafka.SecureOpt{
		kafka.CAFile(pki.caFile),
		kafka.ClientCertFiles(certFile, keyFile),
		kafka.SASL(kafka.SASLScramSHA512, "stranger", "stranger-scram-password"),
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: secureTopic, Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("ProduceSync() without ACL err = %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

// dropNextProduceConnection makes the broker close the connection that
// carries the next produce request, so the client must dial again.
func dropNextProduceConnection(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		return nil, errors.New("test closes the connection"), true
	})
}

func TestSecureClientCertRotation(t *testing.T) {
	pki := newTestPKI(t)
	seen := &serials{}
	c := newSecureCluster(t, pki, seen)
	certFile, keyFile, first := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	var logs logBuffer
	opts := writerOpts(pki, certFile, keyFile, kafka.WithSecureLogger(logs.logger()))
	cl := newSecureClient(t, c, opts)

	produceN(t, cl, 0, 20)
	_, _, second := pki.clientFiles("writer", time.Now().Add(96*time.Hour)) // renewal replaces both files
	produceN(t, cl, 20, 10)                                                 // open connections keep working
	dropNextProduceConnection(c)
	produceN(t, cl, 30, 20) // the retried request runs on a new connection
	consumeN(t, c, opts, 50)

	if !seen.has(first.SerialNumber.Int64()) {
		t.Errorf("broker never received the first certificate (serial %d)", first.SerialNumber)
	}
	if !seen.has(second.SerialNumber.Int64()) {
		t.Errorf("broker never received the renewed certificate (serial %d)", second.SerialNumber)
	}
	if !strings.Contains(logs.String(), "client certificate reloaded") {
		t.Errorf("log has no reload message:\n%s", logs.String())
	}
}

func TestSecureClientCertExpiresWhileRunning(t *testing.T) {
	pki := newTestPKI(t)
	c := newSecureCluster(t, pki, nil)
	notAfter := time.Now().Add(3 * time.Second).Truncate(time.Second)
	certFile, keyFile, _ := pki.clientFiles("writer", notAfter)
	var logs logBuffer
	opts := writerOpts(pki, certFile, keyFile, kafka.WithSecureLogger(logs.logger()))
	cl := newSecureClient(t, c, opts)
	produceN(t, cl, 0, 1)
	if !strings.Contains(logs.String(), "client certificate expires soon") {
		t.Errorf("log has no expiry warning:\n%s", logs.String())
	}

	time.Sleep(time.Until(notAfter) + 1100*time.Millisecond)
	// From now on the broker closes every connection at its next request,
	// so the client has to dial, and the handshake needs the certificate.
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, errors.New("test closes the connection"), true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for range 3 { // the first Ping can fail on a connection the broker closes
		if err = cl.Ping(ctx); errors.Is(err, kafka.ErrCertificateExpired) {
			break
		}
	}
	if !errors.Is(err, kafka.ErrCertificateExpired) {
		t.Fatalf("Ping() after expiry err = %v, want ErrCertificateExpired", err)
	}
	t.Logf("Ping() after expiry: %v", err)
	if !strings.Contains(err.Error(), certFile) {
		t.Errorf("Ping() err = %q, want it to name %s", err, certFile)
	}
	if !strings.Contains(logs.String(), "client certificate unusable") {
		t.Errorf("log has no handshake failure:\n%s", logs.String())
	}
}

func TestSecureClientCertReloadRejectsBadPair(t *testing.T) {
	pki := newTestPKI(t)
	seen := &serials{}
	c := newSecureCluster(t, pki, seen)
	certFile, keyFile, first := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	var logs logBuffer
	opts := writerOpts(pki, certFile, keyFile, kafka.WithSecureLogger(logs.logger()))
	cl := newSecureClient(t, c, opts)
	produceN(t, cl, 0, 5)

	// A renewal caught halfway: the new certificate is in place, its key
	// is not yet.
	key := newKey(t)
	second := pki.issue("writer", key, time.Now().Add(-time.Minute), time.Now().Add(96*time.Hour), false)
	writePEM(t, certFile, &pem.Block{Type: "CERTIFICATE", Bytes: second.Raw})
	dropNextProduceConnection(c)
	produceN(t, cl, 5, 5)
	if !strings.Contains(logs.String(), "client certificate reload failed") || !strings.Contains(logs.String(), "does not match") {
		t.Errorf("log has no reload failure naming the key mismatch:\n%s", logs.String())
	}
	if seen.has(second.SerialNumber.Int64()) {
		t.Fatal("broker received the new certificate before its key was in place")
	}

	writePEM(t, keyFile, keyBlock(t, key))
	dropNextProduceConnection(c)
	produceN(t, cl, 10, 5)
	consumeN(t, c, opts, 15)
	if !seen.has(first.SerialNumber.Int64()) || !seen.has(second.SerialNumber.Int64()) {
		t.Errorf("broker did not see both serials %d and %d", first.SerialNumber, second.SerialNumber)
	}
}

// TestSecureClientCertPartialWrite covers a renewal tool that writes the
// certificate in place, in two writes, while the client dials: the
// half-written file is rejected, the old pair kept, and the complete file
// used from the next connection.
func TestSecureClientCertPartialWrite(t *testing.T) {
	pki := newTestPKI(t)
	seen := &serials{}
	c := newSecureCluster(t, pki, seen)
	certFile, keyFile, first := pki.clientFiles("writer", time.Now().Add(48*time.Hour))
	var logs logBuffer
	cl := newSecureClient(t, c, writerOpts(pki, certFile, keyFile, kafka.WithSecureLogger(logs.logger())))
	produceN(t, cl, 0, 2)

	key := newKey(t)
	second := pki.issue("writer", key, time.Now().Add(-time.Minute), time.Now().Add(96*time.Hour), false)
	full := certPEM(second)
	writeTestFile(t, keyFile, pem.EncodeToMemory(keyBlock(t, key))) // in place, new key first
	writeTestFile(t, certFile, full[:len(full)/2])                  // in place, half the certificate
	dropNextProduceConnection(c)
	produceN(t, cl, 2, 2)
	if seen.has(second.SerialNumber.Int64()) {
		t.Fatal("broker received the half-written certificate")
	}

	f, err := os.OpenFile(certFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(full[len(full)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dropNextProduceConnection(c)
	produceN(t, cl, 4, 2)
	if !seen.has(first.SerialNumber.Int64()) || !seen.has(second.SerialNumber.Int64()) {
		t.Errorf("broker saw serials %v, want %d and %d; log:\n%s", seen.serials, first.SerialNumber, second.SerialNumber, logs.String())
	}
	if strings.Contains(logs.String(), "BEGIN") {
		t.Errorf("log contains PEM text:\n%s", logs.String())
	}
}

// TestSecureClientCertSymlinkSwap covers a Kubernetes secret volume:
// tls.crt and tls.key are symlinks through ..data, which is swapped to a
// new directory by rename.
func TestSecureClientCertSymlinkSwap(t *testing.T) {
	pki := newTestPKI(t)
	seen := &serials{}
	c := newSecureCluster(t, pki, seen)
	vol := t.TempDir()
	write := func(gen string) *x509.Certificate {
		key := newKey(t)
		cert := pki.issue("writer", key, time.Now().Add(-time.Minute), time.Now().Add(48*time.Hour), false)
		d := filepath.Join(vol, gen)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(d, "tls.crt"), certPEM(cert))
		writeTestFile(t, filepath.Join(d, "tls.key"), pem.EncodeToMemory(keyBlock(t, key)))
		tmp := filepath.Join(vol, "..data_tmp")
		if err := os.Symlink(gen, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(vol, "..data")); err != nil {
			t.Fatal(err)
		}
		return cert
	}
	first := write("..gen1")
	for _, n := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", n), filepath.Join(vol, n)); err != nil {
			t.Fatal(err)
		}
	}
	cl := newSecureClient(t, c, writerOpts(pki, filepath.Join(vol, "tls.crt"), filepath.Join(vol, "tls.key")))
	produceN(t, cl, 0, 2)

	second := write("..gen2")
	if err := os.RemoveAll(filepath.Join(vol, "..gen1")); err != nil {
		t.Fatal(err)
	}
	dropNextProduceConnection(c)
	produceN(t, cl, 2, 2)
	if !seen.has(first.SerialNumber.Int64()) || !seen.has(second.SerialNumber.Int64()) {
		t.Errorf("broker saw serials %v, want %d and %d", seen.serials, first.SerialNumber, second.SerialNumber)
	}
}

// TestSecureClientExpiryWarningOpenConnection checks that a client whose
// connection stays open still logs the expiry warning: the background
// check, not a handshake, must log it. The window is set so the
// certificate enters it about a second after the client starts.
// certreload_test.go covers the check itself with a fake clock.
func TestSecureClientExpiryWarningOpenConnection(t *testing.T) {
	pki := newTestPKI(t)
	seen := &serials{}
	c := newSecureCluster(t, pki, seen)
	certFile, keyFile, cert := pki.clientFiles("writer", time.Now().Add(3*time.Second))
	window := time.Until(cert.NotAfter) - time.Second // NotAfter has whole seconds
	var logs logBuffer
	cl := newSecureClient(t, c, writerOpts(pki, certFile, keyFile,
		kafka.CertExpiryWarning(window), kafka.WithSecureLogger(logs.logger())))
	produceN(t, cl, 0, 1)
	if strings.Contains(logs.String(), "expires soon") {
		t.Fatalf("expiry warning logged before the certificate entered the %v window:\n%s", window, logs.String())
	}
	handshakes := len(seen.serials)

	for !strings.Contains(logs.String(), "expires soon") && time.Until(cert.NotAfter) > 100*time.Millisecond {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "expires soon") {
		t.Fatalf("no expiry warning before NotAfter with the %v window; log:\n%s", window, logs.String())
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if len(seen.serials) != handshakes {
		t.Errorf("%d TLS handshakes before the warning, want %d: the warning must not need a new connection", len(seen.serials), handshakes)
	}
}
