package posture

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
)

// minReplicas is the minimum replication factor and min.insync.replicas of
// PHI topics, on clusters with at least that many brokers.
const minReplicas = 2

// checkTopics runs the topic checks on every non-internal topic whose name
// phi matches (every one when phi is nil), in name order.
func checkTopics(ctx context.Context, adm *kadm.Client, meta kadm.Metadata, phi *regexp.Regexp) []Finding {
	var names []string
	for name, td := range meta.Topics {
		if !td.IsInternal && (phi == nil || phi.MatchString(name)) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		pattern := "every non-internal topic"
		if phi != nil {
			pattern = phi.String()
		}
		return []Finding{{Check: "phi-topics", Severity: Info, Status: NotApplicable, Resource: "cluster",
			Setting: "PHI topic pattern", Expected: "at least one PHI topic", Actual: "no topic matches " + pattern}}
	}

	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	configs := newConfigSets(rcs, names, err)
	var out []Finding
	for _, name := range names {
		out = append(out, checkTopic("topic "+name, configs[name], meta.Topics[name], len(meta.Brokers))...)
	}
	return out
}

func checkTopic(resource string, cs configSet, td kadm.TopicDetail, brokers int) []Finding {
	out := []Finding{
		checkBounded("phi-retention-ms", resource, cs, "retention.ms"),
		checkBounded("phi-retention-bytes", resource, cs, "retention.bytes"),
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

// checkBounded checks a retention setting: -1 means unlimited, and a value
// must be a positive number.
func checkBounded(check, resource string, cs configSet, key string) Finding {
	s := cs.get(key)
	n, err := strconv.ParseInt(s.value, 10, 64)
	return finding(check, Medium, resource, key, "set, not -1 (unlimited)", s, err == nil && n > 0)
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
