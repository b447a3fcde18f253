package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/keyring"
)

// Verify scans topics from their start to their current end and counts the
// records sealed under one of ids, and which of those still decrypt. It
// then reads from the key store which ids still have a wrapped key on its
// storage. Run it again later to see compaction complete.
func (p *Purger) Verify(ctx context.Context, ids []keyring.DEKID, topics []string) (Verification, error) {
	v := Verification{ScannedAt: p.cfg.now().UTC(), StillDecrypting: []RecordRef{}, StoreResidue: []string{}}
	want := make(map[keyring.DEKID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	err := p.scan(ctx, topics, func(r *kgo.Record) {
		v.Records++
		d, desc, ok := subjectDescriptor(r)
		if !ok || !want[keyring.DEKID(d.KeyRef)] {
			return
		}
		v.Matched++
		if p.decrypts(ctx, r, d, desc) {
			v.StillDecrypting = append(v.StillDecrypting, RecordRef{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
		}
	})
	if err != nil {
		return v, err
	}
	residue, err := p.ring.KeyStore().Residue(ctx, ids)
	if err != nil {
		return v, fmt.Errorf("kenvelope: scan key store: %w", err)
	}
	for _, id := range residue {
		v.StoreResidue = append(v.StoreResidue, id.String())
	}
	v.Compaction = "complete"
	if len(residue) > 0 {
		v.Compaction = "pending"
	}
	return v, nil
}

// checkSubject reads what the key store holds for subject after the
// shred.
func (p *Purger) checkSubject(ctx context.Context, subject []byte) (*SubjectCheck, error) {
	st, err := p.ring.SubjectState(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("kenvelope: read the purged subject's keys: %w", err)
	}
	c := &SubjectCheck{LiveDEKIDs: []string{}, Quarantined: st.Quarantined}
	for _, id := range st.DEKIDs {
		c.LiveDEKIDs = append(c.LiveDEKIDs, id.String())
	}
	return c, nil
}

// subjectDescriptor returns r's descriptor when it is a subject-scope one.
func subjectDescriptor(r *kgo.Record) (envelope.Descriptor, []byte, bool) {
	at, err := findDescriptor(r.Headers)
	if err != nil || at < 0 || r.Value == nil {
		return envelope.Descriptor{}, nil, false
	}
	desc := r.Headers[at].Value
	d, err := envelope.Parse(desc)
	if err != nil || d.Scope != envelope.ScopeSubject {
		return envelope.Descriptor{}, nil, false
	}
	return d, desc, true
}

// decrypts reports whether the ring still opens r's value.
func (p *Purger) decrypts(ctx context.Context, r *kgo.Record, d envelope.Descriptor, desc []byte) bool {
	dek, err := p.ring.DEK(ctx, d)
	if err != nil {
		return false
	}
	_, err = dek.Open(nil, r.Value, desc, envelope.Binding{Topic: r.Topic, Key: r.Key})
	return err == nil
}

// scan reads every partition of topics from its start to the end offset
// listed when the scan starts, calling fn for each record.
func (p *Purger) scan(ctx context.Context, topics []string, fn func(*kgo.Record)) error {
	admin, err := kgo.NewClient(p.clientOpts...)
	if err != nil {
		return fmt.Errorf("kenvelope: create scan client: %w", err)
	}
	defer admin.Close()

	adm := kadm.NewClient(admin)
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("kenvelope: list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("kenvelope: list end offsets: %w", err)
	}

	parts := map[string]map[int32]kgo.Offset{}
	left := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Offset >= o.Offset {
			return // empty or fully deleted
		}
		if parts[o.Topic] == nil {
			parts[o.Topic], left[o.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}
		}
		parts[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		left[o.Topic][o.Partition] = o.Offset
	})
	if len(parts) == 0 {
		return nil
	}

	// Control records (transaction markers) are kept so that a partition
	// whose last offset is a marker is seen to end.
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), p.clientOpts...), kgo.ConsumePartitions(parts), kgo.KeepControlRecords())...)
	if err != nil {
		return fmt.Errorf("kenvelope: create scan client: %w", err)
	}
	defer cl.Close()
	return pollUntil(ctx, cl, left, fn)
}

// pollUntil polls cl until each partition in left has been read up to its
// end offset.
func pollUntil(ctx context.Context, cl *kgo.Client, left map[string]map[int32]int64, fn func(*kgo.Record)) error {
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("kenvelope: scan topics: %w", err)
		}
		var ferr error
		fs.EachError(func(t string, part int32, err error) {
			ferr = fmt.Errorf("kenvelope: scan %q partition %d: %w", t, part, err)
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Topic][r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset+1 >= end {
				delete(left[r.Topic], r.Partition)
				if len(left[r.Topic]) == 0 {
					delete(left, r.Topic)
				}
			}
		})
	}
	return nil
}
