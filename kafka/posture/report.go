package posture

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Severity ranks what a failed check exposes.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota + 1
	Low
	Medium
	High
)

var severityNames = map[Severity]string{Info: "info", Low: "low", Medium: "medium", High: "high"}

// String returns the lowercase name, such as "high".
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText encodes s by name, as JSON reports carry it.
func (s Severity) MarshalText() ([]byte, error) {
	if _, ok := severityNames[s]; !ok {
		return nil, fmt.Errorf("posture: invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a name written by MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	for v, n := range severityNames {
		if n == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("posture: invalid severity %q: want info, low, medium or high", b)
}

// Status is the outcome of one check on one resource.
type Status int

// Statuses.
const (
	// Pass means the cluster reported the setting and it meets the
	// baseline.
	Pass Status = iota + 1
	// Fail means the cluster reported the setting and it falls short.
	Fail
	// Unknown means the cluster did not report the setting because the
	// broker does not expose it, the client is not authorized, or it is
	// sensitive. It is never counted as a pass.
	Unknown
	// NotApplicable means the check does not apply, for example the
	// replication checks on a cluster with one broker.
	NotApplicable
)

var statusNames = map[Status]string{Pass: "pass", Fail: "fail", Unknown: "unknown", NotApplicable: "n/a"}

// String returns the lowercase name: "pass", "fail", "unknown" or "n/a".
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// MarshalText encodes s by name.
func (s Status) MarshalText() ([]byte, error) {
	if _, ok := statusNames[s]; !ok {
		return nil, fmt.Errorf("posture: invalid status %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a name written by MarshalText.
func (s *Status) UnmarshalText(b []byte) error {
	for v, n := range statusNames {
		if n == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("posture: invalid status %q: want pass, fail, unknown or n/a", b)
}

// Finding is the result of one check on one resource.
type Finding struct {
	Check    string   `json:"check"`    // stable check id, such as "listener-protocol"
	Severity Severity `json:"severity"` // severity of the check, also when it passes
	Status   Status   `json:"status"`
	Resource string   `json:"resource"` // such as "broker 1", "topic phi.labs" or "cluster"
	Setting  string   `json:"setting"`  // the Kafka setting or property checked
	Expected string   `json:"expected"`
	Actual   string   `json:"actual"` // the reported value, or why it is unknown
}

// Report is the outcome of Check.
type Report struct {
	Brokers  int       `json:"brokers"` // brokers in the cluster metadata
	Findings []Finding `json:"findings"`
}

// Failures returns the findings with status Fail and a severity of at
// least atLeast.
func (r *Report) Failures(atLeast Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Status == Fail && f.Severity >= atLeast {
			out = append(out, f)
		}
	}
	return out
}

// Count returns how many findings have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, f := range r.Findings {
		if f.Status == s {
			n++
		}
	}
	return n
}

// WriteTable writes the findings as an aligned text table followed by a
// one-line summary.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tSTATUS\tCHECK\tRESOURCE\tSETTING\tEXPECTED\tACTUAL")
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Status, f.Check, f.Resource, f.Setting, f.Expected, f.Actual)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d findings on %d brokers: %d fail (%d high), %d unknown, %d pass, %d n/a\n",
		len(r.Findings), r.Brokers, r.Count(Fail), len(r.Failures(High)), r.Count(Unknown), r.Count(Pass), r.Count(NotApplicable))
	return err
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *Report) add(fs ...Finding) { r.Findings = append(r.Findings, fs...) }
