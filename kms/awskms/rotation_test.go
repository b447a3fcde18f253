package awskms_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/kenvelope/kenvelope/internal/backendtest"
	"github.com/kenvelope/kenvelope/kms"
)

// rotationDelay is how far ahead the seed file schedules the rotation. It
// leaves time to start local-kms and write the first records under the
// original key material on a loaded machine.
const rotationDelay = 3 * time.Second

// TestScheduledRotation checks that records wrapped before an AWS KMS key
// rotates still decrypt afterwards, and that Ring.Rotate makes the next
// record use the new key material at once.
//
// The pinned local-kms cannot rotate on demand: it has no
// RotateKeyOnDemand handler, and EnableKeyRotation schedules the first
// rotation a year ahead. It does rotate a key whose seed file sets
// NextKeyRotation, the first time the key is used after that time. So the
// test starts a private local-kms whose seed schedules the rotation
// rotationDelay ahead, and Rotate waits for it.
func TestScheduledRotation(t *testing.T) {
	localKMS(t) // skips, or fails in CI, when local-kms was not set up
	keyID := newKeyID(t)
	rotateAt := time.Now().Add(rotationDelay).Truncate(time.Second).Add(time.Second)
	endpoint := startPrivateLocalKMS(t, seedFile(t, keyID, rotateAt))
	kek := newKEK(t, newClient(endpoint), keyID)

	backendtest.RunForcedRotation(t, &backendtest.Key{
		KEK: kek,
		Rotate: func(context.Context) error {
			if time.Now().After(rotateAt) {
				return fmt.Errorf("setup took past the scheduled rotation at %v, so the first record may use either key material", rotateAt)
			}
			time.Sleep(time.Until(rotateAt) + 100*time.Millisecond)
			return nil
		},
		Generation: backingKey,
	})
}

// backingKey returns which backing key of a local-kms key wrapped w,
// counting from 1. local-kms (not AWS KMS) writes a ciphertext as the
// length of the key ARN (1 byte), the ARN, the index of the backing key
// (4 bytes, little-endian) and the AES-GCM ciphertext. It returns zero for
// a ciphertext too short to hold them.
func backingKey(w kms.Wrapped) uint32 {
	ct := w.Ciphertext
	if len(ct) < 1 || len(ct) < 1+int(ct[0])+4 {
		return 0
	}
	n := int(ct[0])
	return binary.LittleEndian.Uint32(ct[1+n:5+n]) + 1
}

// newKeyID returns a random key id in the UUID form of AWS KMS.
func newKeyID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// seedFile writes a local-kms seed file with one symmetric key whose
// rotation is due at rotateAt, and returns its path.
func seedFile(t *testing.T, keyID string, rotateAt time.Time) string {
	t.Helper()
	material := make([]byte, 32)
	rand.Read(material)
	seed := fmt.Sprintf(`Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: %s
        NextKeyRotation: "%s"
        BackingKeys:
          - %s
`, keyID, rotateAt.UTC().Format(time.RFC3339), hex.EncodeToString(material))
	path := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(path, []byte(seed), 0o600); err != nil {
		t.Fatalf("write seed file: %v", err)
	}
	return path
}

// localKMSBinary returns the local-kms that .ci/start-local-kms installed,
// from PATH or the Go bin folder.
func localKMSBinary(t *testing.T) string {
	t.Helper()
	if bin, err := exec.LookPath("local-kms"); err == nil {
		return bin
	}
	bin := filepath.Join(build.Default.GOPATH, "bin", "local-kms")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("local-kms is set up but its binary is neither on PATH nor at %s: %v", bin, err)
	}
	return bin
}

// startedPattern matches the line local-kms logs once it listens, after
// the colour codes are removed.
var (
	startedPattern = regexp.MustCompile(`Local KMS started on [0-9.]*:([0-9]+)`)
	colourPattern  = regexp.MustCompile("\x1b\\[[0-9;]*m")
)

// startPrivateLocalKMS starts a local-kms of this test's own with the seed
// file, on a port the kernel picks, and returns its endpoint on 127.0.0.1.
// The process is stopped when the test ends.
//
// NOTE: local-kms listens on every interface, as .ci/start-local-kms
// explains. The test only connects through 127.0.0.1.
func startPrivateLocalKMS(t *testing.T, seed string) string {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "local-kms.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create local-kms log: %v", err)
	}
	cmd := exec.Command(localKMSBinary(t))
	cmd.Env = []string{"PORT=0", "KMS_REGION=" + testRegion, "KMS_ACCOUNT_ID=111122223333",
		"KMS_DATA_PATH=" + filepath.Join(dir, "data"), "KMS_SEED_PATH=" + seed}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start local-kms: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})

	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(logPath)
		if m := startedPattern.FindSubmatch(colourPattern.ReplaceAll(data, nil)); m != nil {
			return "http://127.0.0.1:" + string(m[1])
		}
		time.Sleep(20 * time.Millisecond)
	}
	data, _ := os.ReadFile(logPath)
	t.Fatalf("local-kms did not start within 15s; its log:\n%s", data)
	return ""
}
