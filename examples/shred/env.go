package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/keyring/kafkastore"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

const (
	kekName    = "patients"
	storeTopic = "kenvelope.keys"
	partitions = 3
)

type config struct {
	dir      string
	patients int
	shred    string
	topic    string
}

// env is the set of components the walk-through starts: a broker, a KEK,
// an audit log and two simulated processes, each a keyring with its own
// key-store reader.
type env struct {
	cluster  *kfake.Cluster
	opts     []kgo.Opt
	dir      string
	kek      kms.KEK
	auditLog *audit.LogSink
	auditF   *os.File
	closers  []func()
}

func start(ctx context.Context, log *slog.Logger, topic string) (*env, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		return nil, fmt.Errorf("start kfake broker: %w", err)
	}
	e := &env{cluster: cluster, opts: []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}}
	e.closers = append(e.closers, cluster.Close)
	if e.dir, err = os.MkdirTemp("", "kenvelope-shred-"); err != nil {
		e.close()
		return nil, fmt.Errorf("create work directory: %w", err)
	}
	e.closers = append(e.closers, func() { os.RemoveAll(e.dir) })
	// A key file is for development only: see package keyfile.
	if e.kek, err = keyfile.Open(filepath.Join(e.dir, kekName+".json"), kekName); err != nil {
		e.close()
		return nil, err
	}
	if e.auditF, err = os.Create(filepath.Join(e.dir, "audit.jsonl")); err != nil {
		e.close()
		return nil, fmt.Errorf("create audit log: %w", err)
	}
	e.closers = append(e.closers, func() { e.auditF.Close() })
	e.auditLog = audit.NewLogSink(e.auditF)
	log.Info("started", "brokers", cluster.ListenAddrs(), "topic", topic, "key_store", storeTopic, "work_dir", e.dir)
	return e, nil
}

// process returns the keyring of one simulated process: its own
// key-store reader, so shreds reach it through the topic.
func (e *env) process(ctx context.Context, log *slog.Logger, principal string) (*keyring.Ring, error) {
	store, err := kafkastore.Open(ctx, storeTopic, e.opts, kafkastore.WithLogger(log))
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, store.Close)
	r, err := keyring.New([]kms.KEK{e.kek}, keyring.WithKeyStore(store), keyring.WithLogger(log),
		keyring.WithAudit(e.auditLog), keyring.Principal(principal))
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, r.Close)
	return r, nil
}

func (e *env) client(opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), e.opts...), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	e.closers = append(e.closers, cl.Close)
	return cl, nil
}

// close releases everything in reverse order of creation.
func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}
