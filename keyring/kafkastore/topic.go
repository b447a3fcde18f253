package kafkastore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ensureTopic creates the topic when it is missing and allowed, checks
// that it is compacted, and returns its partition count.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string, cfg *config) (int32, error) {
	n, err := partitionCount(ctx, adm, topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) && cfg.create {
		configs := make(map[string]*string, len(TopicConfigs))
		for k, v := range TopicConfigs {
			configs[k] = kadm.StringPtr(v)
		}
		resp, cerr := adm.CreateTopic(ctx, cfg.partitions, cfg.replication, configs, topic)
		switch {
		case cerr == nil:
			// The client caches metadata for a few seconds, so take the
			// partition count from the response.
			n, err = cfg.partitions, nil
			if resp.NumPartitions > 0 {
				n = resp.NumPartitions
			}
		case errors.Is(cerr, kerr.TopicAlreadyExists):
			n, err = waitForTopic(ctx, adm, topic)
		default:
			return 0, fmt.Errorf("kafkastore: create topic %q: %w", topic, cerr)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("kafkastore: read topic %q: %w", topic, err)
	}
	if err := checkCompacted(ctx, adm, topic); err != nil {
		return 0, err
	}
	return n, nil
}

func partitionCount(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	d, ok := details[topic]
	if !ok {
		return 0, kerr.UnknownTopicOrPartition
	}
	if d.Err != nil {
		return 0, d.Err
	}
	if len(d.Partitions) == 0 {
		return 0, kerr.UnknownTopicOrPartition
	}
	return int32(len(d.Partitions)), nil
}

// checkCompacted rejects a topic whose cleanup.policy lacks "compact":
// time- or size-based deletion would drop live DEKs and make their
// records unreadable.
func checkCompacted(ctx context.Context, adm *kadm.Client, topic string) error {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafkastore: describe topic %q: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return fmt.Errorf("kafkastore: describe topic %q: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key != "cleanup.policy" || c.Value == nil {
			continue
		}
		if !strings.Contains(*c.Value, "compact") || strings.Contains(*c.Value, "delete") {
			return fmt.Errorf("kafkastore: topic %q has cleanup.policy=%s, want compact: deletion by time or size would lose DEKs", topic, *c.Value)
		}
		return nil
	}
	return fmt.Errorf("kafkastore: topic %q reports no cleanup.policy, want compact", topic)
}

// waitForTopic polls the metadata until a topic that another process just
// created appears.
func waitForTopic(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		n, err := partitionCount(ctx, adm, topic)
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("topic created but not yet visible: %w", ctx.Err())
		case <-time.After(delay):
		}
	}
}
