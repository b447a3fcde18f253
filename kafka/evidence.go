package kafka

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/kenvelope/kenvelope/audit"
)

// Evidence documents one purge: who requested and approved it, when, which
// DEKs were shredded, which records were deleted and what verification
// found. Documents form a chain: each carries the hash of the one before,
// so editing or removing an earlier document breaks every later link. A
// document's hash covers its exact bytes, and VerifyEvidence rejects a
// document with a member added, removed or re-encoded. It holds no
// subject identifier, record key or value.
type Evidence struct {
	Version     int        `json:"version"`
	Seq         uint64     `json:"seq"`
	PrevHash    string     `json:"prev_hash"`
	Scope       string     `json:"scope"` // "subject" or "retention"
	Cutoff      *time.Time `json:"cutoff,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	RequestedBy string     `json:"requested_by"`
	ApprovedBy  string     `json:"approved_by"`
	RequestedAt time.Time  `json:"requested_at"`
	ShreddedAt  time.Time  `json:"shredded_at"`
	CompletedAt time.Time  `json:"completed_at"`
	DEKIDs      []string   `json:"dek_ids"`
	Topics      []string   `json:"topics"`
	// Deleted lists the DeleteRecords calls: records below Offset were
	// deleted, and LowWatermark is the partition's start afterwards.
	Deleted      []DeletedRange `json:"deleted_records,omitempty"`
	Verification Verification   `json:"verification"`
	// AuditHead is the audit log's last sequence number and hash when the
	// purge completed, which anchors that log.
	AuditHead string `json:"audit_head,omitempty"`
	Hash      string `json:"hash"`
}

// DeletedRange is one partition's DeleteRecords result.
type DeletedRange struct {
	Topic        string `json:"topic"`
	Partition    int32  `json:"partition"`
	Offset       int64  `json:"offset"`
	LowWatermark int64  `json:"low_watermark"`
}

// EvidenceVersion is the Evidence format this package writes. Version 2
// added Verification.Subject; VerifyEvidence reads versions 1 and 2.
const EvidenceVersion = 2

// evidenceDomain starts the input of every document hash.
const evidenceDomain = "kenvelope evidence v1\n"

// hashMember ends every document: the hash is its last member.
const hashMember = `,"hash":"`

// ErrEvidenceChain is returned by VerifyEvidence for a broken chain.
var ErrEvidenceChain = errors.New("kenvelope: evidence chain broken")

// seal sets e's position after prev (nil for the first document) and
// computes its hash. It first passes e through its JSON encoding once,
// which replaces invalid UTF-8 in its strings, so that the document reads
// back to the same bytes.
func (e *Evidence) seal(prev *Evidence) error {
	e.Version, e.Seq, e.PrevHash, e.Hash = EvidenceVersion, 1, audit.Genesis, ""
	if prev != nil {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	b, err := json.Marshal(e)
	if err == nil {
		err = json.Unmarshal(b, e)
	}
	if err != nil {
		return fmt.Errorf("kenvelope: encode evidence: %w", err)
	}
	b, err = json.Marshal(e)
	if err != nil {
		return fmt.Errorf("kenvelope: encode evidence: %w", err)
	}
	e.Hash = evidenceHash(b)
	return nil
}

// evidenceHash returns the SHA-256 of a document's JSON with an empty
// hash member.
func evidenceHash(unhashed []byte) string {
	sum := sha256.Sum256(append([]byte(evidenceDomain), unhashed...))
	return hex.EncodeToString(sum[:])
}

// evidenceMu serialises AppendEvidence within the process, so that two
// purges cannot chain to the same document.
var evidenceMu sync.Mutex

// AppendEvidence chains e to the last document in the JSON-lines file at
// path, creating the file (mode 0600) if it is missing, and appends it. It
// verifies the existing chain first and rejects a broken one. On Linux,
// macOS and the BSDs it holds an exclusive flock on the file meanwhile, so
// processes that append to one file take turns. The lock is advisory: it
// does not stop a program that writes without taking it.
func AppendEvidence(path string, e *Evidence) error {
	evidenceMu.Lock()
	defer evidenceMu.Unlock()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("kenvelope: open evidence file: %w", err)
	}
	defer f.Close()
	if err := lockEvidence(f); err != nil {
		return err
	}
	last, err := verifyEvidence(f)
	if err != nil {
		return fmt.Errorf("kenvelope: evidence file %s: %w", path, err)
	}
	if err := e.seal(last); err != nil {
		return err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("kenvelope: encode evidence: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("kenvelope: write evidence file %s: %w", path, err)
	}
	return f.Sync()
}

// VerifyEvidence reads JSON-lines evidence and checks that every document
// is exactly as AppendEvidence wrote it, with no unknown member, and
// every hash and link. Blank lines are skipped. It returns the number of
// documents and the last one's hash, to compare with a copy kept
// elsewhere, since removing documents from the end leaves a valid,
// shorter chain.
func VerifyEvidence(r io.Reader) (n int, head string, err error) {
	last, err := verifyEvidence(r)
	if last == nil {
		return 0, audit.Genesis, err
	}
	return int(last.Seq), last.Hash, err
}

func verifyEvidence(r io.Reader) (*Evidence, error) {
	var last *Evidence
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		e, err := parseEvidence(sc.Bytes())
		if err == nil {
			err = checkLink(e, last)
		}
		if err != nil {
			return last, fmt.Errorf("%w: line %d: %v", ErrEvidenceChain, line, err)
		}
		last = e
	}
	if err := sc.Err(); err != nil {
		return last, fmt.Errorf("kenvelope: read evidence: %w", err)
	}
	return last, nil
}

// parseEvidence checks that raw is a document exactly as AppendEvidence
// writes it, with no unknown member and a hash over its bytes, and
// returns it decoded.
func parseEvidence(raw []byte) (*Evidence, error) {
	tail := len(hashMember) + 64 + 2
	if len(raw) < tail || !bytes.HasSuffix(raw, []byte(`"}`)) || !bytes.HasPrefix(raw[len(raw)-tail:], []byte(hashMember)) {
		return nil, errors.New("not an evidence document: it does not end with its hash member")
	}
	unhashed := append(bytes.Clone(raw[:len(raw)-tail+len(hashMember)]), `"}`...)
	var e Evidence
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("not an evidence document: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not an evidence document: data after the JSON object")
	}
	if e.Version < 1 || e.Version > EvidenceVersion {
		return nil, fmt.Errorf("evidence format version %d, want 1 to %d", e.Version, EvidenceVersion)
	}
	again, err := json.Marshal(&e)
	if err != nil || !bytes.Equal(again, raw) {
		return nil, fmt.Errorf("document %d is not in the form AppendEvidence writes (member order, case, spacing or escaping differs)", e.Seq)
	}
	if evidenceHash(unhashed) != e.Hash {
		return nil, fmt.Errorf("document %d hash does not match its bytes: it was altered", e.Seq)
	}
	return &e, nil
}

func checkLink(e, prev *Evidence) error {
	wantSeq, wantPrev := uint64(1), audit.Genesis
	if prev != nil {
		wantSeq, wantPrev = prev.Seq+1, prev.Hash
	}
	if e.Seq != wantSeq || e.PrevHash != wantPrev {
		return fmt.Errorf("document %d links to %.12s…, want document %d after %.12s…", e.Seq, e.PrevHash, wantSeq, wantPrev)
	}
	return nil
}
