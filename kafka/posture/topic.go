package posture

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// minReplicas is the minimum replication factor and min.insync.replicas of
// PHI topics, on clusters with at least that many brokers.
const minReplicas = 2

// Retention values at or above these bounds never delete anything in
// practice, so Check treats them like -1 (unlimited). Kafka accepts any
// value up to Long.MAX_VALUE (9223372036854775807), which some teams set to
// mean "forever".
const (
	// MaxRetentionMs is 100 years of 365.25 days, in milliseconds.
	MaxRetentionMs = 36525 * 24 * 60 * 60 * 1000
	// MaxRetentionBytes is 1 PiB. retention.bytes applies to each
	// partition, and no broker disk holds a partition that large.
	MaxRetentionBytes = 1 << 50
)

// phiTopics describes which topics Check treats as PHI topics.
type phiTopics struct {
	pattern *regexp.Regexp // nil: every non-internal topic
	names   []string       // the PHI topics in the metadata, sorted
}

// phiTopicNames returns the sorted names of the non-internal topics in meta
// that pattern matches (every one when pattern is nil).
func phiTopicNames(meta kadm.Metadata, pattern *regexp.Regexp) []string {
	var names []string
	for name, td := range meta.Topics {
		if !td.IsInternal && (pattern == nil || pattern.MatchString(name)) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// checkTopics runs the topic checks on every PHI topic, in name order.
func checkTopics(ctx context.Context, adm *kadm.Client, meta kadm.Metadata, phi phiTopics) []Finding {
	if len(phi.names) == 0 {
		return []Finding{noPHITopic(phi.pattern)}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, phi.names...)
	configs := newConfigSets(rcs, phi.names, err)
	var out []Finding
	for _, name := range phi.names {
		out = append(out, checkTopic("topic "+name, configs[name], meta.Topics[name], len(meta.Brokers))...)
	}
	return out
}

// noPHITopic reports that no listed topic matches the PHI pattern. It is
// Unknown, not a pass, and has high severity, because Metadata lists only
// the topics the client may DESCRIBE. A client without that ACL gets no
// topic at all, and an unlisted PHI topic may have any retention and
// replication. Either the pattern or the client's ACLs need fixing before
// the report means anything for PHI.
func noPHITopic(pattern *regexp.Regexp) Finding {
	matched := "every non-internal topic"
	if pattern != nil {
		matched = pattern.String()
	}
	return Finding{Check: "phi-topics", Severity: High, Status: Unknown, Resource: "cluster",
		Setting: "PHI topic pattern", Expected: "at least one PHI topic visible",
		Actual: "no visible topic matches " + matched + "; the client may lack DESCRIBE on the PHI topics, which Metadata requires to list them"}
}

func checkTopic(resource string, cs configSet, td kadm.TopicDetail, brokers int) []Finding {
	out := []Finding{
		checkBounded("phi-retention-ms", resource, cs, "retention.ms", MaxRetentionMs, "100 years"),
		checkBounded("phi-retention-bytes", resource, cs, "retention.bytes", MaxRetentionBytes, "1 PiB"),
		checkCleanupPolicy(resource, cs),
	}
	if brokers < minReplicas {
		na := fmt.Sprintf("%d broker(s) in the cluster; required from %d", brokers, minReplicas)
		return append(out,
			Finding{Check: "phi-min-insync-replicas", Severity: Info, Status: NotApplicable, Resource: resource,
				Setting: "min.insync.replicas", Expected: ">= 2", Actual: na},
			Finding{Check: "phi-replication-factor", Severity: Info, Status: NotApplicable, Resource: resource,
				Setting: "replication factor", Expected: ">= 2", Actual: na})
	}

	isr := cs.get("min.insync.replicas")
	n, err := strconv.Atoi(isr.value)
	out = append(out, finding("phi-min-insync-replicas", Medium, resource, "min.insync.replicas", ">= 2", isr,
		err == nil && n >= minReplicas))
	return append(out, checkReplicationFactor(resource, td))
}

// checkBounded checks a retention setting: it must be a positive number
// below limit. -1 means unlimited, and values from limit up never delete.
func checkBounded(check, resource string, cs configSet, key string, limit int64, limitText string) Finding {
	s := cs.get(key)
	n, err := strconv.ParseInt(s.value, 10, 64)
	expected := fmt.Sprintf("> 0 and < %d (%s); -1 is unlimited", limit, limitText)
	return finding(check, Medium, resource, key, expected, s, err == nil && n > 0 && n < limit)
}

// checkCleanupPolicy fails a topic that is compacted without deletion.
// Compaction keeps the latest record of every key for as long as the topic
// exists, whatever the value of retention.ms, so retention never deletes
// that PHI. With "compact,delete", retention.ms still removes old segments.
func checkCleanupPolicy(resource string, cs configSet) Finding {
	s := cs.get("cleanup.policy")
	ok := false
	for _, p := range splitList(s.value) {
		if strings.EqualFold(p, "delete") {
			ok = true
		}
	}
	return finding("phi-cleanup-policy", Medium, resource, "cleanup.policy", "delete, or compact,delete", s, ok)
}

// checkReplicationFactor uses the smallest replica count over the topic's
// partitions, as the metadata reports them.
func checkReplicationFactor(resource string, td kadm.TopicDetail) Finding {
	f := Finding{Check: "phi-replication-factor", Severity: Medium, Resource: resource,
		Setting: "replication factor", Expected: ">= 2"}
	if td.Err != nil || len(td.Partitions) == 0 {
		f.Status, f.Actual = Unknown, "not reported"
		if td.Err != nil {
			f.Actual += ": " + td.Err.Error()
		}
		return f
	}
	rf := -1
	for _, p := range td.Partitions {
		if rf < 0 || len(p.Replicas) < rf {
			rf = len(p.Replicas)
		}
	}
	f.Actual = strconv.Itoa(rf)
	f.Status = Fail
	if rf >= minReplicas {
		f.Status = Pass
	}
	return f
}
