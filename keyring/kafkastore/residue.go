package kafkastore

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/keyring"
)

// Residue reads the whole topic as the brokers hold it now and returns
// those of ids that still have a record carrying their wrapped key: a
// create or a rewrap record. A deleted entry keeps such records until
// compaction removes them (see TopicConfigs). Until then its wrapped key stays on the brokers' disks,
// where anyone who holds both the data and the KEK can unwrap it.
func (s *Store) Residue(ctx context.Context, ids []keyring.DEKID) ([]keyring.DEKID, error) {
	want := make(map[keyring.DEKID]bool, len(ids))
	for _, id := range ids {
		want[id] = false
	}

	listed, err := s.admin.ListEndOffsets(ctx, s.topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafkastore: list end offsets of %q: %w", s.topic, err)
	}
	ends := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	for p, o := range listed[s.topic] {
		if o.Offset > 0 {
			ends[p], parts[p] = o.Offset, kgo.NewOffset().AtStart()
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}

	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), s.clientOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: parts}), kgo.FetchMaxWait(s.cfg.fetchMaxWait))...)
	if err != nil {
		return nil, fmt.Errorf("kafkastore: create scan client: %w", err)
	}
	defer cl.Close()
	if err := scan(ctx, cl, ends, func(r *kgo.Record) {
		if r.Value != nil && len(r.Key) == 1+len(keyring.DEKID{}) && (r.Key[0] == keyEntry || r.Key[0] == keyRewrap) {
			if _, ok := want[keyring.DEKID(r.Key[1:])]; ok {
				want[keyring.DEKID(r.Key[1:])] = true
			}
		}
	}); err != nil {
		return nil, err
	}

	var out []keyring.DEKID
	for _, id := range ids {
		if want[id] {
			out = append(out, id)
			want[id] = false // report duplicates in ids once
		}
	}
	return out, nil
}

// scan polls cl until every partition in ends has been read up to its end
// offset, calling fn for each record.
func scan(ctx context.Context, cl *kgo.Client, ends map[int32]int64, fn func(*kgo.Record)) error {
	left := len(ends)
	next := map[int32]int64{}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("kafkastore: scan key store: %w", err)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) { ferr = fmt.Errorf("kafkastore: scan partition %d: %w", p, err) })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := ends[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			fn(r)
			if next[r.Partition] < end && r.Offset+1 >= end {
				left--
			}
			next[r.Partition] = r.Offset + 1
		})
	}
	return nil
}
