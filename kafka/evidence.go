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
// so editing or removing an earlier document breaks every later link. It
// holds no subject identifier, record key or value.
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

// EvidenceVersion is the Evidence format this package writes.
const EvidenceVersion = 1

// ErrEvidenceChain is returned by VerifyEvidence for a broken chain.
var ErrEvidenceChain = errors.New("kenvelope: evidence chain broken")

// seal sets e's position after prev (nil for the first document) and
// computes its hash.
func (e *Evidence) seal(prev *Evidence) error {
	e.Version, e.Seq, e.PrevHash = EvidenceVersion, 1, audit.Genesis
	if prev != nil {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	h, err := e.digest()
	e.Hash = h
	return err
}

// digest returns the SHA-256 of e's JSON encoding with Hash empty.
func (e *Evidence) digest() (string, error) {
	c := *e
	c.Hash = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("kenvelope: encode evidence: %w", err)
	}
	sum := sha256.Sum256(append([]byte("kenvelope evidence v1\n"), b...))
	return hex.EncodeToString(sum[:]), nil
}

// evidenceMu serialises AppendEvidence within the process, so that two
// purges cannot chain to the same document.
var evidenceMu sync.Mutex

// AppendEvidence chains e to the last document in the JSON-lines file at
// path, creating the file (mode 0600) if it is missing, and appends it. It
// verifies the existing chain first and rejects a broken one.
//
// NOTE: the file is not locked against other processes. Two processes that
// append to one file at once can fork the chain, which VerifyEvidence then
// reports; let one process write each evidence file.
func AppendEvidence(path string, e *Evidence) error {
	evidenceMu.Lock()
	defer evidenceMu.Unlock()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("kenvelope: open evidence file: %w", err)
	}
	defer f.Close()
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

// VerifyEvidence reads JSON-lines evidence and checks every hash and link.
// It returns the number of documents and the last one's hash, to compare
// with a copy kept elsewhere, since removing documents from the end
// leaves a valid, shorter chain.
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
		var e Evidence
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return last, fmt.Errorf("%w: line %d is not an evidence document: %v", ErrEvidenceChain, line, err)
		}
		if err := checkLink(&e, last); err != nil {
			return last, fmt.Errorf("%w: line %d: %v", ErrEvidenceChain, line, err)
		}
		last = &e
	}
	if err := sc.Err(); err != nil {
		return last, fmt.Errorf("kenvelope: read evidence: %w", err)
	}
	return last, nil
}

func checkLink(e, prev *Evidence) error {
	wantSeq, wantPrev := uint64(1), audit.Genesis
	if prev != nil {
		wantSeq, wantPrev = prev.Seq+1, prev.Hash
	}
	if e.Seq != wantSeq || e.PrevHash != wantPrev {
		return fmt.Errorf("document %d links to %.12s…, want document %d after %.12s…", e.Seq, e.PrevHash, wantSeq, wantPrev)
	}
	h, err := e.digest()
	if err != nil {
		return err
	}
	if h != e.Hash {
		return fmt.Errorf("document %d hash does not match its content: it was altered", e.Seq)
	}
	return nil
}
