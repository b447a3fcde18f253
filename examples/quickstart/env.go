package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
)

const (
	// kekName is the logical KEK name that every descriptor records.
	kekName = "quickstart"

	// partitions of the topic, so that records spread over more than one.
	partitions = 3
)

// env is the set of components the quickstart starts: a broker, a KEK and
// a keyring.
type env struct {
	cluster *kfake.Cluster
	brokers []string
	keyDir  string
	ring    *keyring.Ring
	// recordOpts are given to both producer and consumer; -fields sets
	// them (fields.go).
	recordOpts []kafka.RecordOpt
}

// start starts a one-broker kfake cluster with topic, creates a KEK in a
// new key file in a temporary directory, and builds a keyring on it.
func start(log *slog.Logger, topic string) (*env, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		return nil, fmt.Errorf("start kfake broker: %w", err)
	}
	e := &env{cluster: cluster, brokers: cluster.ListenAddrs()}
	log.Info("broker started", "brokers", e.brokers, "topic", topic, "partitions", partitions)

	e.keyDir, err = os.MkdirTemp("", "kenvelope-quickstart-")
	if err != nil {
		e.close(log)
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	// keyfile.Open creates the missing file with mode 0600 and one random
	// version. A key file is for development only: see package keyfile.
	kek, err := keyfile.Open(filepath.Join(e.keyDir, kekName+".json"), kekName)
	if err != nil {
		e.close(log)
		return nil, err
	}
	log.Info("KEK created", "kek", kekName, "path", kek.Path())

	e.ring, err = keyring.New([]kms.KEK{kek}, keyring.WithLogger(log))
	if err != nil {
		e.close(log)
		return nil, err
	}
	return e, nil
}

// close stops the keyring and the broker and removes the key file.
func (e *env) close(log *slog.Logger) {
	if e.ring != nil {
		e.ring.Close()
	}
	if e.keyDir != "" {
		if err := os.RemoveAll(e.keyDir); err != nil {
			log.Error("remove key directory", "path", e.keyDir, "error", err)
		}
	}
	e.cluster.Close()
}
