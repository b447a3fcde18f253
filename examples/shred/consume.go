package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
)

// tally counts, per patient id, the records that decrypted and those that
// failed, split into "key shredded" and other failures.
type tally struct {
	decryptedOf map[string]int
	shredded    map[string]int
	otherErrs   map[string]int
	firstErr    error
}

func (t *tally) decrypted() int {
	n := 0
	for _, c := range t.decryptedOf {
		n += c
	}
	return n
}

func (t *tally) checkAllDecrypt() error {
	for _, c := range t.shredded {
		if c > 0 {
			return errors.New("a record failed with key shredded before any purge")
		}
	}
	for _, c := range t.otherErrs {
		if c > 0 {
			return fmt.Errorf("a record failed to decrypt before the purge: %w", t.firstErr)
		}
	}
	return nil
}

// report prints the outcome per patient and returns an error if a record
// of the purged patient decrypts or any other record fails.
func (t *tally) report(out io.Writer, target string, order map[string]int) error {
	var errs []error
	okOthers, others := 0, 0
	for id := range order {
		if id == target {
			continue
		}
		okOthers += t.decryptedOf[id]
		others += t.decryptedOf[id] + t.shredded[id] + t.otherErrs[id]
		if t.shredded[id]+t.otherErrs[id] > 0 {
			errs = append(errs, fmt.Errorf("patient %d: %d records failed to decrypt", order[id], t.shredded[id]+t.otherErrs[id]))
		}
	}
	fmt.Fprintf(out, "shred: purged patient %d: %d records decrypt, %d fail with key shredded\n",
		order[target], t.decryptedOf[target], t.shredded[target])
	fmt.Fprintf(out, "shred: the %d other patients: %d of %d records decrypt\n", len(order)-1, okOthers, others)
	if t.decryptedOf[target] > 0 {
		errs = append(errs, fmt.Errorf("%d records of the purged patient still decrypt", t.decryptedOf[target]))
	}
	if t.otherErrs[target] > 0 {
		errs = append(errs, fmt.Errorf("%d records of the purged patient failed other than key shredded: %w", t.otherErrs[target], t.firstErr))
	}
	if t.shredded[target] == 0 {
		errs = append(errs, errors.New("no record of the purged patient was found"))
	}
	return errors.Join(errs...)
}

// consumeAll reads the whole topic with a new consumer on r (at least min
// records) and tallies the outcome per patient.
func consumeAll(ctx context.Context, e *env, r *keyring.Ring, topic string, min int) (*tally, error) {
	t := &tally{decryptedOf: map[string]int{}, shredded: map[string]int{}, otherErrs: map[string]int{}}
	end, err := endOffsets(ctx, e, topic)
	if err != nil {
		return nil, err
	}
	cl, err := e.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	var seen int64
	c, err := kafka.NewConsumer(cl, r, kafka.OnDecryptError(kafka.Skip(func(raw *kgo.Record, err error) {
		seen++
		if errors.Is(err, keyring.ErrShredded) {
			t.shredded[string(raw.Key)]++
			return
		}
		t.otherErrs[string(raw.Key)]++
		if t.firstErr == nil {
			t.firstErr = err
		}
	})))
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for seen < max(end, int64(min)) {
		rs, err := c.Poll(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("consumed %d of %d records: %w", seen, end, ctx.Err())
		}
		if err != nil {
			return nil, err
		}
		for _, rec := range rs {
			seen++
			t.decryptedOf[string(rec.Key)]++
		}
	}
	return t, nil
}

// endOffsets returns the number of records in topic.
func endOffsets(ctx context.Context, e *env, topic string) (int64, error) {
	cl, err := e.client()
	if err != nil {
		return 0, err
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("list end offsets: %w", err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
