package kafka

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// certReloader serves the client certificate to TLS handshakes and reloads
// it from its files when they change, so certificates that live for days
// can be renewed on disk without restarting the client.
//
// Each handshake stats both files. The pair is read again when either
// file's modification time, size or identity differs from the pair last
// loaded. The identity is the device and inode, which change when a file is
// replaced by rename or by a Kubernetes secret's symlink swap. A pair that
// fails to load (a half-written file, a key that does not match, a
// certificate already expired or not yet valid) is rejected: the handshake
// keeps the previous certificate, a warning is logged once per distinct
// error, and the next handshake tries again.
//
// Connections already open keep the certificate they authenticated with,
// so work in flight is not interrupted; the new certificate is used from
// the next connection the client opens. Because a client may keep its
// connections for longer than the warning window, expiryWatch also runs
// checkExpiry between handshakes.
type certReloader struct {
	certFile, keyFile string
	warnWithin        time.Duration
	logger            *slog.Logger
	now               func() time.Time // time.Now; tests replace it

	mu       sync.Mutex
	cert     *tls.Certificate // Leaf is always set
	certInfo os.FileInfo      // stat of certFile when cert was loaded
	keyInfo  os.FileInfo
	warned   *tls.Certificate // certificate last logged as expiring soon
	rejected *tls.Certificate // certificate last logged as unusable
	lastErr  string           // last reload error logged
}

func newCertReloader(certFile, keyFile string, warnWithin time.Duration, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, warnWithin: warnWithin, logger: logger, now: time.Now}
	now := r.now()

	// Stat before reading, so a change between the two shows up as a
	// changed file at the next handshake instead of being missed.
	certInfo, keyInfo, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := loadKeyPair(certFile, keyFile, now)
	if err != nil {
		return nil, err
	}

	r.cert, r.certInfo, r.keyInfo = cert, certInfo, keyInfo
	r.warnIfExpiring(now)
	return r, nil
}

// getClientCertificate is the tls.Config.GetClientCertificate callback. It
// returns an error, and so fails the handshake before anything reaches the
// broker, when the certificate in use is expired or not yet valid.
func (r *certReloader) getClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()

	r.maybeReload(now)
	if err := checkValidity(r.cert.Leaf, r.certFile, now); err != nil {
		r.logUnusable(err, "kenvelope: client certificate unusable, TLS handshake aborted")
		return nil, err
	}
	r.warnIfExpiring(now)
	return r.cert, nil
}

// checkExpiry runs the checks of a handshake between handshakes. It
// reloads changed files and logs the expiry warning. Once the certificate
// in use has expired, it logs an error, because the next connection the
// client opens will fail.
func (r *certReloader) checkExpiry() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()

	r.maybeReload(now)
	if err := checkValidity(r.cert.Leaf, r.certFile, now); err != nil {
		r.logUnusable(err, "kenvelope: client certificate unusable, new broker connections will fail")
		return
	}
	r.warnIfExpiring(now)
}

// logUnusable logs err once per certificate.
func (r *certReloader) logUnusable(err error, msg string) {
	if r.rejected == r.cert {
		return
	}
	r.rejected = r.cert
	r.logger.Error(msg, "cert_file", r.certFile, "serial", serial(r.cert.Leaf), "error", err)
}

// Bounds of the interval at which expiryWatch checks the certificate.
const (
	maxExpiryCheckInterval = time.Hour
	minExpiryCheckInterval = 100 * time.Millisecond
)

// expiryCheckInterval returns a quarter of the warning window, so the
// warning is logged at most a quarter of the window late, within the
// bounds above.
func expiryCheckInterval(window time.Duration) time.Duration {
	return min(max(window/4, minExpiryCheckInterval), maxExpiryCheckInterval)
}

// expiryWatch is a kgo hook that runs certReloader.checkExpiry every
// interval for each client built with it, from kgo.NewClient until
// Client.Close returns. Options passed to several clients start one
// goroutine per client. The clients do not repeat each other's messages,
// because checkExpiry logs each event once per certificate.
type expiryWatch struct {
	certs    *certReloader
	interval time.Duration

	mu   sync.Mutex
	done map[*kgo.Client]chan struct{} // closed when the client's goroutine ends
}

func newExpiryWatch(certs *certReloader, interval time.Duration) *expiryWatch {
	return &expiryWatch{certs: certs, interval: interval, done: map[*kgo.Client]chan struct{}{}}
}

// OnNewClient implements kgo.HookNewClient. The goroutine ends when the
// client's context is canceled, which Client.Close does.
func (w *expiryWatch) OnNewClient(cl *kgo.Client) {
	done := make(chan struct{})
	w.mu.Lock()
	w.done[cl] = done
	w.mu.Unlock()
	go w.run(cl.Context(), done)
}

// OnClientClosed implements kgo.HookClientClosed: it waits for the
// client's goroutine to end, so nothing is logged after Close returns.
func (w *expiryWatch) OnClientClosed(cl *kgo.Client) {
	w.mu.Lock()
	done, ok := w.done[cl]
	delete(w.done, cl)
	w.mu.Unlock()
	if ok {
		<-done
	}
}

func (w *expiryWatch) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.certs.checkExpiry()
		}
	}
}

func (r *certReloader) maybeReload(now time.Time) {
	certInfo, keyInfo, err := r.stat()
	if err == nil && !fileChanged(r.certInfo, certInfo) && !fileChanged(r.keyInfo, keyInfo) {
		return
	}
	var cert *tls.Certificate
	if err == nil {
		cert, err = loadKeyPair(r.certFile, r.keyFile, now)
	}
	if err != nil {
		if msg := err.Error(); msg != r.lastErr {
			r.lastErr = msg
			r.logger.Warn("kenvelope: client certificate reload failed, keeping the loaded certificate",
				"cert_file", r.certFile, "key_file", r.keyFile, "serial", serial(r.cert.Leaf), "error", err)
		}
		return
	}

	r.cert, r.certInfo, r.keyInfo, r.lastErr = cert, certInfo, keyInfo, ""
	r.logger.Info("kenvelope: client certificate reloaded", "cert_file", r.certFile,
		"subject", cert.Leaf.Subject.String(), "serial", serial(cert.Leaf), "not_after", cert.Leaf.NotAfter)
}

func (r *certReloader) warnIfExpiring(now time.Time) {
	left := r.cert.Leaf.NotAfter.Sub(now)
	if left > r.warnWithin || r.warned == r.cert {
		return
	}
	r.warned = r.cert
	r.logger.Warn("kenvelope: client certificate expires soon", "cert_file", r.certFile,
		"serial", serial(r.cert.Leaf), "not_after", r.cert.Leaf.NotAfter, "remaining", left.Round(time.Second).String())
}

func (r *certReloader) stat() (certInfo, keyInfo os.FileInfo, err error) {
	if certInfo, err = os.Stat(r.certFile); err != nil {
		return nil, nil, fmt.Errorf("kenvelope: client certificate: %w", err)
	}
	if keyInfo, err = os.Stat(r.keyFile); err != nil {
		return nil, nil, fmt.Errorf("kenvelope: client key: %w", err)
	}
	return certInfo, keyInfo, nil
}

func fileChanged(old, cur os.FileInfo) bool {
	return !os.SameFile(old, cur) || !old.ModTime().Equal(cur.ModTime()) || old.Size() != cur.Size()
}

func serial(c *x509.Certificate) string { return c.SerialNumber.Text(16) }

// checkValidity reports a certificate outside its validity period.
func checkValidity(leaf *x509.Certificate, file string, now time.Time) error {
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("%w: %s, not valid after %s", ErrCertificateExpired, file, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("%w: %s, not valid before %s", ErrCertificateNotYetValid, file, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// loadKeyPair reads a PEM certificate chain (leaf first) and a PEM private
// key, checks that the key belongs to the leaf and that the leaf is valid
// at now. Errors name the file at fault and never contain key bytes.
func loadKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	chain, leaf, err := readCertChain(certFile)
	if err != nil {
		return nil, err
	}
	key, err := readPrivateKey(keyFile)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("%w: key %s, certificate %s", ErrKeyMismatch, keyFile, certFile)
	}
	if err := checkValidity(leaf, certFile, now); err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// readCertChain reads a PEM certificate chain, leaf first, and parses
// every certificate in it, so a damaged intermediate is an error here and
// not a handshake failure at the broker. Blocks of other types are skipped.
func readCertChain(path string) (chain [][]byte, leaf *x509.Certificate, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("kenvelope: read client certificate: %w", err)
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, nil, fmt.Errorf("kenvelope: client certificate %s: %w", path, err)
	}
	for _, block := range blocks {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("kenvelope: client certificate %s: certificate %d: %w", path, len(chain)+1, err)
		}
		if leaf == nil {
			leaf = c
		}
		chain = append(chain, block.Bytes)
	}
	if len(chain) == 0 {
		return nil, nil, fmt.Errorf("kenvelope: client certificate file %s contains no PEM CERTIFICATE block", path)
	}
	return chain, leaf, nil
}

// readPrivateKey reads the first PEM private key block of path, in PKCS #8,
// PKCS #1 (RSA) or SEC 1 (EC) form. Encrypted PEM keys are not supported.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: read client key: %w", err)
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: client key %s: %w", path, err)
	}
	var block *pem.Block
	for _, b := range blocks {
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			block = b
			break
		}
	}
	if block == nil {
		return nil, fmt.Errorf("kenvelope: client key file %s contains no PEM PRIVATE KEY block", path)
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return nil, fmt.Errorf("kenvelope: client key %s is encrypted; provide an unencrypted key with file permissions 0600", path)
	}
	key, err := parsePrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: client key %s: %w", path, err)
	}
	return key, nil
}

func parsePrivateKey(block *pem.Block) (crypto.Signer, error) {
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return signer, nil
}
