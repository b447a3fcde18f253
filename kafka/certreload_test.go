package kafka

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a log destination that a test reads while a goroutine
// writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeClock is a time source that a test sets by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// writeSelfSigned writes a self-signed certificate valid until notAfter
// and its key to a temporary directory and returns the two paths.
func writeSelfSigned(t *testing.T, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "writer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// newTestReloader returns a reloader for a certificate that expires in 48
// hours, with a 24-hour warning window, a fake clock set to now and its log.
func newTestReloader(t *testing.T) (*certReloader, *fakeClock, *syncBuffer, time.Time) {
	t.Helper()
	notAfter := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	certFile, keyFile := writeSelfSigned(t, notAfter)
	var logs syncBuffer
	r, err := newCertReloader(certFile, keyFile, 24*time.Hour, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("newCertReloader() err = %v", err)
	}
	clock := &fakeClock{now: time.Now()}
	r.now = clock.Now
	return r, clock, &logs, notAfter
}

func TestCertReloaderCheckExpiry(t *testing.T) {
	r, clock, logs, notAfter := newTestReloader(t)

	r.checkExpiry()
	if logs.String() != "" {
		t.Fatalf("checkExpiry() 48h before NotAfter logged:\n%s", logs)
	}

	clock.Set(notAfter.Add(-23 * time.Hour))
	r.checkExpiry()
	r.checkExpiry()
	if n := strings.Count(logs.String(), "client certificate expires soon"); n != 1 {
		t.Errorf("checkExpiry() twice inside the window logged %d warnings, want 1:\n%s", n, logs)
	}

	clock.Set(notAfter.Add(time.Minute))
	r.checkExpiry()
	r.checkExpiry()
	if n := strings.Count(logs.String(), "new broker connections will fail"); n != 1 {
		t.Errorf("checkExpiry() twice after NotAfter logged %d errors, want 1:\n%s", n, logs)
	}
	if _, err := r.getClientCertificate(nil); !errors.Is(err, ErrCertificateExpired) {
		t.Errorf("getClientCertificate() after NotAfter err = %v, want ErrCertificateExpired", err)
	}
	if n := strings.Count(logs.String(), "client certificate unusable"); n != 1 {
		t.Errorf("%d unusable-certificate messages for one certificate, want 1:\n%s", n, logs)
	}
}

func TestCertReloaderCheckExpiryReloads(t *testing.T) {
	r, clock, logs, notAfter := newTestReloader(t)
	renewed := time.Now().Add(96 * time.Hour).Truncate(time.Second)
	certFile, keyFile := writeSelfSigned(t, renewed)
	for _, f := range [][2]string{{certFile, r.certFile}, {keyFile, r.keyFile}} {
		if err := os.Rename(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}

	clock.Set(notAfter.Add(-time.Hour))
	r.checkExpiry()
	if !strings.Contains(logs.String(), "client certificate reloaded") {
		t.Errorf("checkExpiry() after a renewal did not reload:\n%s", logs)
	}
	if strings.Contains(logs.String(), "expires soon") {
		t.Errorf("checkExpiry() warned about the replaced certificate:\n%s", logs)
	}
	if got := r.cert.Leaf.NotAfter; !got.Equal(renewed) {
		t.Errorf("certificate in use expires %v, want the renewed %v", got, renewed)
	}
}

func TestExpiryCheckInterval(t *testing.T) {
	tests := []struct{ window, want time.Duration }{
		{24 * time.Hour, time.Hour},
		{time.Hour, 15 * time.Minute},
		{2 * time.Second, 500 * time.Millisecond},
		{time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := expiryCheckInterval(tc.window); got != tc.want {
			t.Errorf("expiryCheckInterval(%v) = %v, want %v", tc.window, got, tc.want)
		}
	}
}

// TestExpiryWatchClientLifetime checks that the hook starts its goroutine
// in kgo.NewClient and that Client.Close stops it. The client's seed
// broker is a closed local port; no request is made.
func TestExpiryWatchClientLifetime(t *testing.T) {
	r, clock, logs, notAfter := newTestReloader(t)
	clock.Set(notAfter.Add(-time.Hour))
	w := newExpiryWatch(r, 5*time.Millisecond)
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.WithHooks(w))
	if err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "expires soon") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "expires soon") {
		t.Fatalf("no expiry warning from the hook's goroutine:\n%s", logs)
	}

	cl.Close()
	w.mu.Lock()
	running := len(w.done)
	w.mu.Unlock()
	if running != 0 {
		t.Errorf("%d goroutines registered after Close, want 0", running)
	}
	clock.Set(notAfter.Add(time.Minute))
	time.Sleep(50 * time.Millisecond) // 10 intervals
	if strings.Contains(logs.String(), "unusable") {
		t.Errorf("goroutine still checking after Close:\n%s", logs)
	}
}
