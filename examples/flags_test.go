package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestConsumerMissingKeyFile runs the consumer with a key file path
// that does not exist, as after a typo. It must fail saying the file is
// missing, and must not create a new, unrelated KEK there.
func TestConsumerMissingKeyFile(t *testing.T) {
	bin := buildPrograms(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	dir := t.TempDir()
	p := runProgram(t, filepath.Join(bin, "producer"), "-brokers", brokers, "-topic", topic,
		"-kek-file", filepath.Join(dir, "kek.json"), "-patients", "1")
	if p.code != 0 {
		t.Fatalf("producer exit status = %d, stderr:\n%s", p.code, p.stderr)
	}

	typo := filepath.Join(dir, "kek.jsno")
	c := runProgram(t, filepath.Join(bin, "consumer"), "-brokers", brokers, "-topic", topic,
		"-kek-file", typo, "-n", "1", "-timeout", "10s")
	if c.code == 0 {
		t.Fatalf("consumer with a missing key file exit status = 0, want non-zero")
	}
	if _, err := os.Stat(typo); err == nil {
		t.Errorf("consumer created a new key file at %s, want it to report the file as missing", typo)
	}
	if !strings.Contains(c.stderr, "no such file") && !strings.Contains(c.stderr, "not found") && !strings.Contains(c.stderr, "missing") {
		t.Errorf("consumer stderr does not say the key file is missing:\n%s", c.stderr)
	}
}

// TestMissingBrokersExitStatus checks the documented exit status 2
// for invalid flags when -brokers is missing.
func TestMissingBrokersExitStatus(t *testing.T) {
	bin := buildPrograms(t)
	for _, prog := range []string{"producer", "consumer"} {
		o := runProgram(t, filepath.Join(bin, prog), "-kek-file", filepath.Join(t.TempDir(), "k.json"))
		if o.code != 2 {
			t.Errorf("%s without -brokers exit status = %d, want 2 (invalid flags)", prog, o.code)
		}
	}
}
