package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kenvelope/kenvelope/audit"
	"github.com/kenvelope/kenvelope/examples/internal/cli"
	"github.com/kenvelope/kenvelope/internal/fhir"
	"github.com/kenvelope/kenvelope/kafka"
	"github.com/kenvelope/kenvelope/keyring"
)

// walkThrough runs every step and returns an error when any check fails.
func walkThrough(ctx context.Context, log *slog.Logger, out io.Writer, cfg config) error {
	resources, err := cli.LoadResources(cfg.dir, cfg.patients)
	if err != nil {
		return err
	}
	order, target, err := pickPatient(resources, cfg.shred)
	if err != nil {
		return err
	}
	e, err := start(ctx, log, cfg.topic)
	if err != nil {
		return err
	}
	defer e.close()
	producerRing, err := e.process(ctx, log, "fhir-ingest")
	if err != nil {
		return err
	}
	consumerRing, err := e.process(ctx, log, "fhir-analytics")
	if err != nil {
		return err
	}

	if err := produceAll(ctx, e, producerRing, cfg.topic, resources); err != nil {
		return err
	}
	fmt.Fprintf(out, "shred: produced %d records for %d patients, one subject DEK each\n", len(resources), len(order))
	before, err := consumeAll(ctx, e, consumerRing, cfg.topic, len(resources))
	if err != nil {
		return err
	}
	if err := before.checkAllDecrypt(); err != nil {
		return err
	}
	fmt.Fprintf(out, "shred: before the purge %d of %d records decrypt\n", before.decrypted(), len(resources))

	ev, err := purge(ctx, e, producerRing, cfg.topic, target)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "shred: purged patient %d of %d, DEK %v\n", order[target], len(order), ev.DEKIDs)
	after, err := consumeAll(ctx, e, consumerRing, cfg.topic, len(resources))
	if err != nil {
		return err
	}
	if err := after.report(out, target, order); err != nil {
		return err
	}
	v := ev.Verification
	fmt.Fprintf(out, "shred: verification scanned %d records, %d under the shredded DEK, %d still decrypt; key-store compaction %s\n",
		v.Records, v.Matched, len(v.StillDecrypting), v.Compaction)
	if s := v.Subject; s != nil {
		fmt.Fprintf(out, "shred: the key store holds %d DEKs of the patient, quarantined %v\n", len(s.LiveDEKIDs), s.Quarantined)
	}
	printJSON(out, "evidence", ev)
	return finish(ctx, out, e, producerRing, consumerRing, cfg.topic, target, after.shredded[target])
}

// pickPatient returns each patient's position in load order (from 1) and
// the patient to purge.
func pickPatient(rs []fhir.Resource, shred string) (map[string]int, string, error) {
	order := map[string]int{}
	first := ""
	for _, r := range rs {
		if _, ok := order[r.PatientID]; !ok {
			order[r.PatientID] = len(order) + 1
			if first == "" {
				first = r.PatientID
			}
		}
	}
	if shred == "" {
		shred = first
	}
	if _, ok := order[shred]; !ok {
		return nil, "", errors.New("-shred matches no Patient.id in the input: give the id of a Patient resource, not the bundle's file name or a urn:uuid reference")
	}
	if len(order) < 2 {
		return nil, "", errors.New("the input has one patient; the walk-through needs another whose records stay readable")
	}
	return order, shred, nil
}

func produceAll(ctx context.Context, e *env, r *keyring.Ring, topic string, rs []fhir.Resource) error {
	cl, err := e.client()
	if err != nil {
		return err
	}
	p, err := kafka.NewProducer(cl, r, kafka.KEK(kekName), kafka.SubjectKey())
	if err != nil {
		return err
	}
	records := make([]*kgo.Record, len(rs))
	for i, res := range rs {
		records[i] = cli.NewRecord(topic, res)
	}
	if err := p.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// purge quarantines and shreds the patient and verifies the result, with
// the evidence chained into a file in the work directory.
func purge(ctx context.Context, e *env, r *keyring.Ring, topic, patient string) (*kafka.Evidence, error) {
	purger, err := kafka.NewPurger(r, e.opts, kafka.EvidenceFile(filepath.Join(e.dir, "evidence.jsonl")), kafka.AuditHead(e.auditLog))
	if err != nil {
		return nil, err
	}
	return purger.Purge(ctx, kafka.PurgeRequest{Subject: []byte(patient), Topics: []string{topic},
		RequestedBy: "privacy-officer@example.org", ApprovedBy: "security-officer@example.org", Reason: "erasure request 2024-017"})
}

// finish lets the purged patient return under a new DEK, runs compaction,
// verifies again, and checks the audit log and the evidence chain.
func finish(ctx context.Context, out io.Writer, e *env, producer, consumer *keyring.Ring, topic, patient string, oldRecords int) error {
	if err := producer.Release(ctx, []byte(patient)); err != nil {
		return err
	}
	if err := produceAll(ctx, e, producer, topic, []fhir.Resource{{Type: "Patient", PatientID: patient, JSON: []byte(`{"resourceType":"Patient"}`)}}); err != nil {
		return err
	}
	again, err := consumeAll(ctx, e, consumer, topic, 0)
	if err != nil {
		return err
	}
	if again.decryptedOf[patient] != 1 || again.shredded[patient] != oldRecords {
		return fmt.Errorf("returning patient: %d new records decrypt, %d old fail, want 1 and %d", again.decryptedOf[patient], again.shredded[patient], oldRecords)
	}
	fmt.Fprintf(out, "shred: the patient returns: a new DEK opens their new record, their %d old records stay unreadable\n", oldRecords)

	e.cluster.Compact() // what the broker's log cleaner does within max.compaction.lag.ms
	purger, err := kafka.NewPurger(producer, e.opts)
	if err != nil {
		return err
	}
	ev, err := readEvidence(filepath.Join(e.dir, "evidence.jsonl"))
	if err != nil {
		return err
	}
	ids := make([]keyring.DEKID, 0, len(ev.DEKIDs))
	for _, s := range ev.DEKIDs {
		id, err := keyring.ParseDEKID(s)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	v, err := purger.Verify(ctx, ids, []string{topic})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "shred: after compaction: %d matching records, %d decrypt, store residue %v, compaction %s\n",
		v.Matched, len(v.StillDecrypting), v.StoreResidue, v.Compaction)
	if !v.Verified() {
		return errors.New("a shredded record decrypts after compaction")
	}
	return checkLogs(out, e, ev.AuditHead)
}

// checkLogs verifies the audit log, which must still hold the line whose
// hash the evidence recorded as its head, and the evidence chain.
func checkLogs(out io.Writer, e *env, recorded string) error {
	producerLog, err := os.ReadFile(e.auditF.Name())
	if err != nil {
		return err
	}
	seq, hash, err := audit.ParseHead(recorded)
	if err != nil {
		return err
	}
	res, err := audit.Verify(bytesReader(producerLog), audit.ExpectHead(seq, hash))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "shred: audit log %d events, hash chain verified, head %d %.16s…, includes the head %d the evidence recorded\n",
		res.Events, res.Seq, res.Head, seq)
	f, err := os.Open(filepath.Join(e.dir, "evidence.jsonl"))
	if err != nil {
		return err
	}
	defer f.Close()
	n, head, err := kafka.VerifyEvidence(f)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "shred: evidence chain %d document verified, head %.16s…\n", n, head)
	return nil
}

func readEvidence(path string) (*kafka.Evidence, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ev kafka.Evidence
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("read evidence: %w", err)
	}
	return &ev, nil
}

func printJSON(out io.Writer, label string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(out, "%s: %v\n", label, err)
		return
	}
	fmt.Fprintf(out, "%s:\n%s\n", label, b)
}
