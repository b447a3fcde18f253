package kafkastore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/keyring/kafkastore"
	"github.com/kenvelope/kenvelope/kms"
)

const mrn = "MRN-ZX-88412377"

// slowFetch holds the fetch requests of clients configured with
// kgo.Rack(rack) while hold is set, which makes one Store's reader fall
// behind the topic as a GC pause or a slow network would. It uses kfake's
// fault injection, not a test double.
type slowFetch struct {
	hold    atomic.Bool
	release chan struct{}
	held    chan struct{}
	once    sync.Once
}

func newSlowFetch(c *kfake.Cluster, rack string) *slowFetch {
	s := &slowFetch{release: make(chan struct{}), held: make(chan struct{})}
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if f, ok := req.(*kmsg.FetchRequest); ok && f.Rack == rack && s.hold.Load() {
			s.once.Do(func() { close(s.held) })
			c.SleepControl(func() { <-s.release })
		}
		return nil, nil, false
	})
	return s
}

// stall makes the held reader fall behind: it holds its next fetch and
// writes a record to the topic that the reader then cannot read.
func (s *slowFetch) stall(t *testing.T, c *kfake.Cluster) {
	t.Helper()
	s.hold.Store(true)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("x")}).FirstErr(); err != nil {
		t.Errorf("produce: %v", err)
	}
	<-s.held
}

func openStoreWith(t testing.TB, c *kfake.Cluster, extra []kgo.Opt, opts ...kafkastore.Opt) *kafkastore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := kafkastore.Open(ctx, topic, append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, extra...), opts...)
	if err != nil {
		t.Fatalf("Open() err = %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func ringOn(t testing.TB, kek kms.KEK, s keyring.KeyStore, opts ...keyring.Opt) *keyring.Ring {
	t.Helper()
	r, err := keyring.New([]kms.KEK{kek}, append([]keyring.Opt{keyring.WithKeyStore(s)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// wrapHook calls fn before the first Wrap of a subject DEK. It is a test
// double only to place the KMS round trip of a rewrap at a chosen moment.
type wrapHook struct {
	kms.KEK
	fn atomic.Pointer[func()]
}

func (w *wrapHook) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if ec["kenvelope"] == "subject-dek" {
		if fn := w.fn.Swap(nil); fn != nil {
			(*fn)()
		}
	}
	return w.KEK.Wrap(ctx, dek, ec)
}

// A Rewrap whose Store has not read another process's tombstone yet must
// not bring the shredded DEK back, in any process, nor leave its wrapped
// key behind after compaction.
func TestStoreRewrapAfterShred(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	b, _ := process(t, c)
	desc, sealed := seal(t, b, mrn)
	id, err := keyring.ParseDEKID(dekIDOf(t, desc))
	if err != nil {
		t.Fatal(err)
	}

	slow := newSlowFetch(c, "rewrapper")
	hk := &wrapHook{KEK: newKEK(t)}
	a := ringOn(t, hk, openStoreWith(t, c, []kgo.Opt{kgo.Rack("rewrapper")}))
	fn := func() {
		slow.stall(t, c)
		if _, err := b.Shred(ctx, []byte(mrn)); err != nil {
			t.Errorf("Shred() err = %v", err)
		}
		go func() { time.Sleep(300 * time.Millisecond); slow.hold.Store(false); close(slow.release) }()
	}
	hk.fn.Store(&fn)
	res, err := a.Rewrap(ctx, keyring.RewrapBefore(time.Now().Add(time.Hour)))
	if err != nil || res.Rewrapped != 1 || res.Deleted != 1 {
		t.Errorf("Rewrap() = %+v, %v, want the token key rewrapped and the DEK deleted", res, err)
	}

	late := openStore(t, c)
	if e, err := late.Lookup(ctx, id); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("Lookup() in a store opened after Shred and Rewrap = DEK %s, %v, want ErrNotFound", e.ID, err)
	}
	if _, err := open(b, desc, sealed); !errors.Is(err, keyring.ErrShredded) {
		t.Errorf("Open() after a concurrent Rewrap err = %v, want ErrShredded", err)
	}
	seal(t, b, "MRN-other") // compaction leaves the last batch alone
	c.Compact()
	if res, err := late.Residue(ctx, []keyring.DEKID{id}); err != nil || len(res) != 0 {
		t.Errorf("Residue() after compaction = %v, %v, want none", res, err)
	}
}

// Adding partitions to the key-store topic fails every Store closed with
// a *PartitionCountError, and Open rejects the topic.
func TestStorePartitionsAdded(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	s := openStore(t, c, kafkastore.MaxLag(time.Second), kafkastore.LagCheck(50*time.Millisecond))
	r := ringOn(t, newKEK(t), s, keyring.SubjectCacheTTL(100*time.Millisecond))
	desc, sealed := seal(t, r, mrn)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreatePartitions(ctx, 3, topic); err != nil {
		t.Fatalf("CreatePartitions() err = %v", err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := open(r, desc, sealed)
		var pe *kafkastore.PartitionCountError
		if errors.As(err, &pe) && errors.Is(err, keyring.ErrStoreStale) {
			if pe.Recorded != 1 || pe.Found != 4 {
				t.Errorf("PartitionCountError = %+v, want 1 recorded, 4 found", pe)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Open(record) 5s after partitions were added err = %v, want a PartitionCountError", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err = kafkastore.Open(ctx, topic, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)})
	var pe *kafkastore.PartitionCountError
	if !errors.As(err, &pe) {
		t.Fatalf("Open(topic with added partitions) err = %v, want a PartitionCountError", err)
	}
}

// A consumer whose store reader stalls stops opening a shredded record
// within SubjectCacheTTL plus MaxLag after Shred returned.
func TestStoreShredBoundWithStalledReader(t *testing.T) {
	const ttl, maxLag = 300 * time.Millisecond, 600 * time.Millisecond
	c := newCluster(t)
	admin, _ := process(t, c)
	desc, sealed := seal(t, admin, mrn)
	slow := newSlowFetch(c, "held")
	held := ringOn(t, newKEK(t), openStoreWith(t, c, []kgo.Opt{kgo.Rack("held")},
		kafkastore.MaxLag(maxLag), kafkastore.LagCheck(100*time.Millisecond)), keyring.SubjectCacheTTL(ttl))
	if _, err := open(held, desc, sealed); err != nil {
		t.Fatal(err)
	}
	slow.stall(t, c)
	defer close(slow.release)

	if _, err := admin.Shred(context.Background(), []byte(mrn)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, err := open(held, desc, sealed)
		if err != nil {
			if !errors.Is(err, keyring.ErrStoreStale) {
				t.Errorf("Open() with a stalled reader err = %v, want ErrStoreStale", err)
			}
			break
		}
		if time.Since(start) > ttl+maxLag+200*time.Millisecond {
			t.Fatalf("the consumer still opens the shredded record %v after Shred, bound %v", time.Since(start), ttl+maxLag)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("a consumer with a stalled reader opened the shredded record for %v (bound %v)", time.Since(start).Round(time.Millisecond), ttl+maxLag)
}

// Malformed records are skipped and logged with their partition and
// offset, never with their bytes.
func TestStoreMalformedRecords(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	var logs syncBuffer
	s := openStoreWith(t, c, nil, kafkastore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	r := ringOn(t, newKEK(t), s)
	desc, sealed := seal(t, r, mrn)
	d, _ := envelope.Parse(desc)

	junk, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	bad := []*kgo.Record{
		{Key: nil, Value: []byte("garbage")},
		{Key: []byte("d0123456789abcdef"), Value: bytes.Repeat([]byte{0xff}, 200)},
		{Key: append([]byte{'d'}, d.KeyRef...), Value: []byte{1, 1, 2, 3}},
		{Key: append([]byte{'w'}, d.KeyRef...), Value: []byte("zz")},
		{Key: append([]byte{'d'}, make([]byte, 16)...), Value: make([]byte, 69)},
	}
	if err := junk.ProduceSync(ctx, bad...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	if _, err := open(r, desc, sealed); err != nil {
		t.Errorf("Open() after malformed records err = %v", err)
	}
	later, _ := process(t, c)
	if _, err := open(later, desc, sealed); err != nil {
		t.Errorf("Open() in a process started after the malformed records err = %v", err)
	}

	text := logs.String()
	if n := strings.Count(text, "skipped a key-store record"); n != len(bad) {
		t.Errorf("store log has %d skipped-record warnings, want %d:\n%s", n, len(bad), text)
	}
	if !strings.Contains(text, "partition=0 offset=") {
		t.Errorf("skipped-record warnings lack partition and offset:\n%s", text)
	}
	if strings.Contains(text, "garbage") || strings.Contains(text, mrn) {
		t.Errorf("store log contains record bytes:\n%s", text)
	}
}

// syncBuffer is a bytes.Buffer safe for the Store's reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countingKEK cancels a context after n subject-DEK wraps. It is a test
// double only to interrupt a Rewrap at a chosen entry.
type countingKEK struct {
	kms.KEK
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *countingKEK) Wrap(ctx context.Context, dek []byte, ec kms.EncryptionContext) (kms.Wrapped, error) {
	if c.cancel != nil && c.n.Add(1) == 10 {
		c.cancel()
	}
	return c.KEK.Wrap(ctx, dek, ec)
}

// A Rewrap interrupted after 10 wraps and resumed with
// RewrapBefore(first.Started) rewraps every entry exactly once.
func TestStoreRewrapResume(t *testing.T) {
	c := newCluster(t)
	ck := &countingKEK{KEK: newKEK(t)}
	r, s := process(t, c)
	for i := range 30 {
		seal(t, r, "MRN-"+string(rune('A'+i)))
	}
	rw := ringOn(t, ck, s)
	ctx, cancel := context.WithCancel(context.Background())
	ck.cancel = cancel
	first, err := rw.Rewrap(ctx, keyring.RewrapBefore(time.Now()))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted Rewrap() err = %v, want context.Canceled", err)
	}
	ck.cancel = nil
	second, err := rw.Rewrap(context.Background(), keyring.RewrapBefore(first.Started))
	if err != nil {
		t.Fatal(err)
	}
	if first.Rewrapped+second.Rewrapped != 31 || second.Scanned != 31 || second.Current != first.Rewrapped {
		t.Errorf("Rewrap() = %+v, then %+v, want 31 entries (30 DEKs and the token key) rewrapped once in total", first, second)
	}
	for i := range 30 {
		desc, sealed := seal(t, r, "MRN-"+string(rune('A'+i)))
		if _, err := open(ringOn(t, newKEK(t), s), desc, sealed); err != nil {
			t.Fatalf("Open() after the resumed rewrap err = %v", err)
		}
	}
}
