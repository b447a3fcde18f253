// Package posture checks a Kafka cluster's security settings against a
// baseline for topics that carry protected health information (PHI), and
// reports each finding with its severity, resource, setting, expected and
// actual value.
//
// The baseline:
//   - no PLAINTEXT or SASL_PLAINTEXT listener;
//   - ssl.client.auth=required on every TLS listener;
//   - ssl.enabled.protocols only TLSv1.2 and TLSv1.3;
//   - auto.create.topics.enable=false;
//   - an authorizer, with allow.everyone.if.no.acl.found=false;
//   - no ACL that allows operation ALL to the wildcard principal User:*
//     or on the wildcard topic, and none that allows READ to User:* on a
//     topic resource that covers PHI topics;
//   - on PHI topics, retention.ms and retention.bytes bounded (see
//     MaxRetentionMs and MaxRetentionBytes), a cleanup.policy that
//     includes delete, and min.insync.replicas and the replication factor
//     at least 2 when the cluster has at least 2 brokers.
//
// Check reads everything through kadm (DescribeConfigs for brokers and
// topics, DescribeAcls, Metadata) and changes nothing. A setting the
// cluster does not report is Unknown, never Pass: Kafka brokers do not
// report settings that belong to the authorizer, such as
// allow.everyone.if.no.acl.found, unless they were set in the broker's
// configuration.
//
// The client needs these ACLs (a superuser has them all): DESCRIBE and
// DESCRIBE_CONFIGS on the cluster, and DESCRIBE and DESCRIBE_CONFIGS on
// every PHI topic. Without DESCRIBE on a topic, Metadata does not list it,
// so Check cannot report on it. When no listed topic matches the PHI
// pattern, Check returns a high-severity Unknown finding. A PHI topic hidden
// next to listed ones goes unreported.
package posture

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Opt configures Check.
type Opt interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

type config struct {
	phi *regexp.Regexp
}

// PHITopics sets the pattern that names PHI topics. The topic checks run on
// every topic whose name it matches, so use ^ and $ for a whole-name match.
// Default: every topic except Kafka's internal ones.
func PHITopics(re *regexp.Regexp) Opt { return optFunc(func(c *config) { c.phi = re }) }

// Check reads the configuration and ACLs of the cluster that adm talks to
// and returns the findings. It returns an error only when it cannot read
// the cluster metadata; a setting it cannot read becomes an Unknown
// finding. See the package documentation for the ACLs the client needs.
func Check(ctx context.Context, adm *kadm.Client, opts ...Opt) (*Report, error) {
	var cfg config
	for _, o := range opts {
		o.apply(&cfg)
	}
	if adm == nil {
		return nil, fmt.Errorf("posture: Check needs a kadm client")
	}
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("posture: read cluster metadata: %w", err)
	}

	r := &Report{Brokers: len(meta.Brokers)}
	ids := meta.Brokers.NodeIDs()
	brokers := describeBrokers(ctx, adm, ids)
	for _, id := range ids {
		r.add(checkBroker(fmt.Sprintf("broker %d", id), brokers[fmt.Sprint(id)])...)
	}
	phi := phiTopics{pattern: cfg.phi, names: phiTopicNames(meta, cfg.phi)}
	r.add(checkACLs(ctx, adm, phi)...)
	r.add(checkTopics(ctx, adm, meta, phi)...)
	return r, nil
}

// configSet is one resource's described configs, or why they are missing.
type configSet struct {
	byKey map[string]kadm.Config
	err   error
}

// setting is one config value as reported. When known is false, value
// explains why it is unknown.
type setting struct {
	value  string
	known  bool
	source string // Kafka's config source, such as DEFAULT_CONFIG
}

func (s setting) String() string {
	switch {
	case !s.known:
		return s.value
	case s.value == "":
		return "(unset)"
	case s.source != "":
		return s.value + " (" + s.source + ")"
	}
	return s.value
}

func (cs configSet) get(key string) setting {
	if cs.err != nil {
		return setting{value: "not reported: " + cs.err.Error()}
	}
	c, ok := cs.byKey[key]
	switch {
	case !ok:
		return setting{value: "not reported"}
	case c.Sensitive:
		return setting{value: "not reported (sensitive)"}
	case c.Value == nil:
		return setting{known: true}
	}
	return setting{value: strings.TrimSpace(*c.Value), known: true, source: c.Source.String()}
}

// has reports whether the cluster reported key.
func (cs configSet) has(key string) bool {
	_, ok := cs.byKey[key]
	return cs.err == nil && ok
}

func newConfigSets(rcs kadm.ResourceConfigs, names []string, err error) map[string]configSet {
	out := make(map[string]configSet, len(names))
	for _, n := range names {
		out[n] = configSet{err: fmt.Errorf("no response for %s", n)}
		if err != nil {
			out[n] = configSet{err: err}
		}
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			out[rc.Name] = configSet{err: rc.Err}
			continue
		}
		m := make(map[string]kadm.Config, len(rc.Configs))
		for _, c := range rc.Configs {
			m[c.Key] = c
		}
		out[rc.Name] = configSet{byKey: m}
	}
	return out
}

func describeBrokers(ctx context.Context, adm *kadm.Client, ids []int32) map[string]configSet {
	rcs, err := adm.DescribeBrokerConfigs(ctx, ids...)
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = fmt.Sprint(id)
	}
	return newConfigSets(rcs, names, err)
}

func finding(check string, sev Severity, resource, key, expected string, s setting, ok bool) Finding {
	f := Finding{Check: check, Severity: sev, Resource: resource, Setting: key, Expected: expected, Actual: s.String()}
	switch {
	case !s.known:
		f.Status = Unknown
	case ok:
		f.Status = Pass
	default:
		f.Status = Fail
	}
	return f
}
