package kafkastore_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/keyring/kafkastore"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

const topic = "kenvelope.keys"

var binding = envelope.Binding{Topic: "fhir", Key: []byte("p")}

func newCluster(t testing.TB) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func openStore(t testing.TB, c *kfake.Cluster, opts ...kafkastore.Opt) *kafkastore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := kafkastore.Open(ctx, topic, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)
	if err != nil {
		t.Fatalf("Open() err = %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func newKEK(t testing.TB) kms.KEK {
	t.Helper()
	k, err := keyfile.FromBytes("patients", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// process is one Ring with its own Store, as one process would have.
func process(t testing.TB, c *kfake.Cluster, opts ...keyring.Opt) (*keyring.Ring, *kafkastore.Store) {
	t.Helper()
	s := openStore(t, c)
	r, err := keyring.New([]kms.KEK{newKEK(t)}, append([]keyring.Opt{keyring.WithKeyStore(s)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, s
}

func seal(t testing.TB, r *keyring.Ring, subject string) ([]byte, []byte) {
	t.Helper()
	desc, sealed, err := r.SealSubject(context.Background(), "patients", []byte(subject), envelope.PayloadValue, nil, []byte("v-"+subject), binding)
	if err != nil {
		t.Fatalf("SealSubject(%s) err = %v", subject, err)
	}
	return desc, sealed
}

func open(r *keyring.Ring, desc, sealed []byte) ([]byte, error) {
	d, err := envelope.Parse(desc)
	if err != nil {
		return nil, err
	}
	return r.Open(context.Background(), d, desc, nil, sealed, binding)
}

func TestStoreCreatesCompactedTopic(t *testing.T) {
	c := newCluster(t)
	openStore(t, c)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, cfg := range resp.Resources[0].Configs {
		if cfg.Value != nil {
			got[cfg.Name] = *cfg.Value
		}
	}
	for k, want := range kafkastore.TopicConfigs {
		if got[k] != want {
			t.Errorf("topic config %s = %q, want %q", k, got[k], want)
		}
	}
}

func TestStoreRejectsDeletePolicy(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = kafkastore.Open(context.Background(), topic, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)})
	if err == nil {
		t.Fatal("Open(topic with cleanup.policy=delete) err = nil, want an error")
	}
}

func TestStoreSharedAcrossProcesses(t *testing.T) {
	c := newCluster(t)
	producer, _ := process(t, c)
	consumer, _ := process(t, c)
	desc, sealed := seal(t, producer, "Patient/1")
	got, err := open(consumer, desc, sealed)
	if err != nil || string(got) != "v-Patient/1" {
		t.Fatalf("Open() in another process = %q, %v, want v-Patient/1", got, err)
	}
	// A third process started later reads the entries from the topic.
	late, _ := process(t, c)
	if _, err := open(late, desc, sealed); err != nil {
		t.Fatalf("Open() in a process started later err = %v", err)
	}
	d2, _ := seal(t, late, "Patient/1")
	if !bytes.Equal(d2, desc) {
		t.Fatal("a later process sealing the same subject used another DEK")
	}
}

func TestStoreConcurrentFirstWritesConverge(t *testing.T) {
	c := newCluster(t)
	var rings []*keyring.Ring
	var stores []*kafkastore.Store
	for i := 0; i < 3; i++ {
		r, s := process(t, c)
		rings, stores = append(rings, r), append(stores, s)
	}
	for round := 0; round < 5; round++ {
		subject := "Patient/race-" + string(rune('a'+round))
		var wg sync.WaitGroup
		descs := make([][]byte, 12)
		for g := range descs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				descs[g], _ = seal(t, rings[g%3], subject)
			}()
		}
		wg.Wait()
		for g := range descs {
			if !bytes.Equal(descs[g], descs[0]) {
				t.Fatalf("round %d: goroutine %d used another DEK than goroutine 0", round, g)
			}
		}
	}
	// Losers delete their entries, and every process reads the deletions shortly.
	for i, s := range stores {
		deadline := time.Now().Add(5 * time.Second)
		for n := countDEKs(t, s); n != 5; n = countDEKs(t, s) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d sees %d subject DEKs, want 5", i, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func countDEKs(t *testing.T, s *kafkastore.Store) int {
	t.Helper()
	n := 0
	err := s.Range(context.Background(), func(e keyring.Entry) bool {
		if e.Kind == keyring.KindSubjectDEK {
			n++
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStoreShredReachesThreeConsumers(t *testing.T) {
	c := newCluster(t)
	producer, store := process(t, c)
	var consumers []*keyring.Ring
	for i := 0; i < 3; i++ {
		r, _ := process(t, c)
		consumers = append(consumers, r)
	}
	descA, sealedA := seal(t, producer, "Patient/a")
	descB, sealedB := seal(t, producer, "Patient/b")
	for _, r := range consumers {
		if _, err := open(r, descA, sealedA); err != nil {
			t.Fatal(err)
		}
	}

	res, err := producer.Shred(context.Background(), []byte("Patient/a"))
	if err != nil {
		t.Fatal(err)
	}
	shredded := time.Now()
	var slowest atomic.Int64
	var wg sync.WaitGroup
	for i, r := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := open(r, descA, sealedA)
				if errors.Is(err, keyring.ErrShredded) {
					d := int64(time.Since(shredded))
					for old := slowest.Load(); d > old && !slowest.CompareAndSwap(old, d); old = slowest.Load() {
					}
					return
				}
				if time.Since(shredded) > 10*time.Second {
					t.Errorf("consumer %d still opens the shredded record 10s after Shred", i)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	t.Logf("last of three consumers refused the record %v after Shred returned", time.Duration(slowest.Load()))
	for i, r := range consumers {
		if _, err := open(r, descB, sealedB); err != nil {
			t.Errorf("consumer %d Open(other subject) err = %v", i, err)
		}
	}

	residue, err := store.Residue(context.Background(), res.DEKIDs)
	if err != nil || len(residue) != 1 {
		t.Fatalf("Residue() before compaction = %v, %v, want the shredded id pending", residue, err)
	}
	// Compaction leaves the active (last) batch alone, as Kafka leaves the
	// active segment, so the tombstone must be followed by another write.
	seal(t, producer, "Patient/c")
	c.Compact()
	residue, err = store.Residue(context.Background(), res.DEKIDs)
	if err != nil || len(residue) != 0 {
		t.Fatalf("Residue() after compaction = %v, %v, want none", residue, err)
	}
}

func TestStoreRewrapKeepsOrder(t *testing.T) {
	c := newCluster(t)
	kek, err := keyfile.Open(t.TempDir()+"/kek.json", "patients")
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, c)
	r, err := keyring.New([]kms.KEK{kek}, keyring.WithKeyStore(s))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	desc, sealed := seal(t, r, "Patient/r")
	if _, err := kek.Rotate(); err != nil {
		t.Fatal(err)
	}
	res, err := r.Rewrap(context.Background())
	if err != nil || res.Rewrapped != 2 || res.Failed != 0 {
		t.Fatalf("Rewrap() = %+v, %v, want 2 rewrapped (token key and DEK)", res, err)
	}
	if err := kek.Destroy(1); err != nil {
		t.Fatal(err)
	}
	other, err := keyring.New([]kms.KEK{kek}, keyring.WithKeyStore(openStore(t, c)))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := open(other, desc, sealed); err != nil || string(got) != "v-Patient/r" {
		t.Fatalf("Open() after rewrap and destroying version 1 = %q, %v", got, err)
	}
	again, _ := seal(t, other, "Patient/r")
	if dekIDOf(t, again) != dekIDOf(t, desc) {
		t.Fatal("after rewrap the subject's DEK changed")
	}
}

func dekIDOf(t *testing.T, desc []byte) string {
	t.Helper()
	d, err := envelope.Parse(desc)
	if err != nil {
		t.Fatal(err)
	}
	return keyring.DEKID(d.KeyRef).String()
}

func TestStoreStaleFailsClosed(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, c, kafkastore.MaxLag(300*time.Millisecond), kafkastore.LagCheck(50*time.Millisecond))
	// Fault injection: drop every ListOffsets request, as a broker
	// unreachable for the lag check would.
	c.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, errors.New("injected: list offsets unavailable"), true
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Entries(context.Background(), keyring.Token{})
		if errors.Is(err, keyring.ErrStoreStale) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Entries() err = %v 5s into the outage, want ErrStoreStale", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
