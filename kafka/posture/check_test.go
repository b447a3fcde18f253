package posture_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kenvelope/kenvelope/kafka/posture"
)

const adminPassword = "admin-scram-password"

// NOTE: kfake does not report listeners, ssl.*, auto.create.topics.enable,
// allow.everyone.if.no.acl.found or authorizer.class.name itself, and does
// not enforce them. These tests declare them with kfake.BrokerConfigs, which
// kfake reports as given, to stand for a broker's server.properties.
func newCluster(t *testing.T, brokers int, brokerConfigs map[string]string) (*kfake.Cluster, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "admin", adminPassword), kfake.BrokerConfigs(brokerConfigs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.SASL(scram.Auth{User: "admin", Pass: adminPassword}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, kadm.NewClient(cl)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func createTopic(t *testing.T, adm *kadm.Client, name string, rf int16, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctx(t), 1, rf, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("CreateTopic(%s) err = %v", name, err)
	}
}

func find(t *testing.T, r *posture.Report, check, resource string) posture.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Check == check && f.Resource == resource {
			return f
		}
	}
	t.Fatalf("no finding %s on %q in:\n%s", check, resource, table(r))
	return posture.Finding{}
}

func table(r *posture.Report) string {
	var b bytes.Buffer
	_ = r.WriteTable(&b)
	return b.String()
}

func TestCheckFailingCluster(t *testing.T) {
	_, adm := newCluster(t, 3, map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093",
		"ssl.client.auth":                "requested",
		"ssl.enabled.protocols":          "TLSv1.1,TLSv1.2",
		"auto.create.topics.enable":      "true",
		"allow.everyone.if.no.acl.found": "true",
		"authorizer.class.name":          "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
	})
	createTopic(t, adm, "phi.labs", 1, map[string]*string{"retention.ms": kadm.StringPtr("-1")})
	createTopic(t, adm, "metrics", 1, nil)
	acl := kadm.NewACLs().Allow("User:*").AllowHosts("*").Topics("phi.labs").
		ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpAll)
	if _, err := adm.CreateACLs(ctx(t), acl); err != nil {
		t.Fatalf("CreateACLs() err = %v", err)
	}

	r, err := posture.Check(ctx(t), adm, posture.PHITopics(regexp.MustCompile(`^phi\.`)))
	if err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	for _, want := range []struct{ check, resource string }{
		{"listener-protocol", "broker 0 listener PLAINTEXT"},
		{"ssl-client-auth", "broker 1 listener SSL"},
		{"tls-protocols", "broker 2 listener SSL"},
		{"auto-create-topics", "broker 0"},
		{"allow-everyone-if-no-acl", "broker 0"},
		{"acl-wildcard-all", `acl TOPIC LITERAL "phi.labs"`},
		{"phi-retention-ms", "topic phi.labs"},
		{"phi-retention-bytes", "topic phi.labs"},
		{"phi-min-insync-replicas", "topic phi.labs"},
		{"phi-replication-factor", "topic phi.labs"},
	} {
		if f := find(t, r, want.check, want.resource); f.Status != posture.Fail {
			t.Errorf("%s on %q = %s (actual %q), want fail", want.check, want.resource, f.Status, f.Actual)
		}
	}
	if f := find(t, r, "listener-protocol", "broker 0 listener SSL"); f.Status != posture.Pass {
		t.Errorf("listener-protocol on SSL listener = %s, want pass", f.Status)
	}
	for _, f := range r.Findings {
		if strings.Contains(f.Resource, "metrics") {
			t.Errorf("finding on non-PHI topic metrics: %+v", f)
		}
	}
	if len(r.Failures(posture.High)) == 0 {
		t.Error("Failures(High) is empty, want the listener, ACL and broker findings")
	}
}

func TestCheckUnreportedIsUnknown(t *testing.T) {
	_, adm := newCluster(t, 1, nil)
	createTopic(t, adm, "phi.notes", 1, nil)

	r, err := posture.Check(ctx(t), adm)
	if err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	for _, check := range []string{"listener-protocol", "ssl-client-auth", "tls-protocols",
		"auto-create-topics", "allow-everyone-if-no-acl", "authorizer"} {
		if f := find(t, r, check, "broker 0"); f.Status != posture.Unknown {
			t.Errorf("%s on an unreported setting = %s, want unknown", check, f.Status)
		}
	}
	// kfake reports retention defaults: 7 days, and -1 (unlimited) bytes.
	if f := find(t, r, "phi-retention-ms", "topic phi.notes"); f.Status != posture.Pass {
		t.Errorf("phi-retention-ms = %s (%s), want pass", f.Status, f.Actual)
	}
	if f := find(t, r, "phi-retention-bytes", "topic phi.notes"); f.Status != posture.Fail {
		t.Errorf("phi-retention-bytes = %s (%s), want fail", f.Status, f.Actual)
	}
	if f := find(t, r, "phi-replication-factor", "topic phi.notes"); f.Status != posture.NotApplicable {
		t.Errorf("phi-replication-factor on one broker = %s, want n/a", f.Status)
	}
}

func TestCheckSecurityDisabled(t *testing.T) {
	c, adm := newCluster(t, 1, nil)
	// kfake lists ACLs even without EnableACLs, while a broker without an
	// authorizer returns SECURITY_DISABLED from DescribeAcls.
	c.ControlKey(int16(kmsg.DescribeACLs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
		resp.Version = req.GetVersion()
		resp.ErrorCode = kerr.SecurityDisabled.Code
		return resp, nil, true
	})

	r, err := posture.Check(ctx(t), adm)
	if err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	if f := find(t, r, "authorizer", "cluster"); f.Status != posture.Fail || f.Severity != posture.High {
		t.Errorf("authorizer = %s/%s, want fail/high", f.Status, f.Severity)
	}
}

func TestReportJSON(t *testing.T) {
	_, adm := newCluster(t, 1, map[string]string{"auto.create.topics.enable": "false"})
	r, err := posture.Check(ctx(t), adm)
	if err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatalf("WriteJSON() err = %v", err)
	}
	if !strings.Contains(b.String(), `"severity": "medium"`) || !strings.Contains(b.String(), `"status": "pass"`) {
		t.Errorf("WriteJSON() = %s, want names for severity and status", b.String())
	}
	var back posture.Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("json.Unmarshal(report) err = %v", err)
	}
	if len(back.Findings) != len(r.Findings) || back.Findings[0] != r.Findings[0] {
		t.Errorf("JSON round trip = %+v, want %+v", back.Findings, r.Findings)
	}
}

// TestCheckAuditorCannotSeeTopics: Metadata lists only the topics the
// client may DESCRIBE, so an auditor without that ACL gets no PHI topic at
// all. The report must mark that unknown at high severity, not pass it.
func TestCheckAuditorCannotSeeTopics(t *testing.T) {
	acl := func(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: rt, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	clusterACLs := []kfake.ACL{
		acl(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationDescribe),
		acl(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationDescribeConfigs),
		acl(kmsg.ACLResourceTypeTopic, "*", kmsg.ACLOperationDescribeConfigs),
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "admin", adminPassword),
		kfake.User("SCRAM-SHA-512", "blind", "blind-password", clusterACLs...),
		kfake.User("SCRAM-SHA-512", "auditor", "auditor-password",
			append(clusterACLs, acl(kmsg.ACLResourceTypeTopic, "*", kmsg.ACLOperationDescribe))...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.CreateTopic("phi.labs", 1, map[string]string{"retention.ms": "-1"}); err != nil {
		t.Fatal(err)
	}
	check := func(user, password string) *posture.Report {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
			kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		r, err := posture.Check(ctx(t), kadm.NewClient(cl), posture.PHITopics(regexp.MustCompile(`^phi\.`)))
		if err != nil {
			t.Fatalf("Check() as %s err = %v", user, err)
		}
		return r
	}

	r := check("blind", "blind-password")
	f := find(t, r, "phi-topics", "cluster")
	if f.Status != posture.Unknown || f.Severity != posture.High {
		t.Errorf("phi-topics without DESCRIBE on topics = %s/%s, want unknown/high", f.Status, f.Severity)
	}
	if !strings.Contains(f.Actual, "DESCRIBE") {
		t.Errorf("phi-topics actual = %q, want it to name the missing DESCRIBE ACL", f.Actual)
	}

	r = check("auditor", "auditor-password")
	if f := find(t, r, "phi-retention-ms", "topic phi.labs"); f.Status != posture.Fail {
		t.Errorf("phi-retention-ms with the documented ACLs = %s (%s), want fail", f.Status, f.Actual)
	}
}

// TestCheckWildcardACLForms covers every form of a wildcard ALLOW ALL.
func TestCheckWildcardACLForms(t *testing.T) {
	_, adm := newCluster(t, 1, nil)
	createTopic(t, adm, "phi.labs", 1, nil)
	builders := []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:*").AllowHosts("*").Clusters().Operations(kadm.OpAll),
		kadm.NewACLs().Allow("User:*").AllowHosts("10.0.0.1").Groups("g").Operations(kadm.OpAll),
		kadm.NewACLs().Allow("User:*").AllowHosts("*").Topics("phi").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpAll),
		kadm.NewACLs().Allow("User:bob").AllowHosts("*").Topics("*").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpAll),
	}
	for _, b := range builders {
		if _, err := adm.CreateACLs(ctx(t), b); err != nil {
			t.Fatalf("CreateACLs() err = %v", err)
		}
	}
	r, err := posture.Check(ctx(t), adm)
	if err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	var n int
	for _, f := range r.Findings {
		if f.Check == "acl-wildcard-all" && f.Status == posture.Fail {
			n++
		}
	}
	if n != len(builders) {
		t.Errorf("%d failed acl-wildcard-all findings, want %d:\n%s", n, len(builders), table(r))
	}
}

func TestCheckWildcardReadACL(t *testing.T) {
	read := func(principal, topic string, pattern kadm.ACLPattern) *kadm.ACLBuilder {
		return kadm.NewACLs().Allow(principal).AllowHosts("*").Topics(topic).ResourcePatternType(pattern).Operations(kadm.OpRead)
	}
	tests := []struct {
		name string
		acl  *kadm.ACLBuilder
		fail bool
	}{
		{"User:* on a PHI topic", read("User:*", "phi.labs", kadm.ACLPatternLiteral), true},
		{"User:* on a prefix of PHI topics", read("User:*", "ph", kadm.ACLPatternPrefixed), true},
		{"User:* on topic *", read("User:*", "*", kadm.ACLPatternLiteral), true},
		{"User:* on another topic", read("User:*", "metrics", kadm.ACLPatternLiteral), false},
		{"one user on a PHI topic", read("User:bob", "phi.labs", kadm.ACLPatternLiteral), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, adm := newCluster(t, 1, nil)
			createTopic(t, adm, "phi.labs", 1, nil)
			if _, err := adm.CreateACLs(ctx(t), tc.acl); err != nil {
				t.Fatalf("CreateACLs() err = %v", err)
			}
			r, err := posture.Check(ctx(t), adm, posture.PHITopics(regexp.MustCompile(`^phi\.`)))
			if err != nil {
				t.Fatalf("Check() err = %v", err)
			}
			var failed bool
			for _, f := range r.Findings {
				if f.Check == "acl-wildcard-read" && f.Status == posture.Fail {
					failed = true
				}
			}
			if failed != tc.fail {
				t.Errorf("acl-wildcard-read failed = %v, want %v:\n%s", failed, tc.fail, table(r))
			}
		})
	}
}

func TestCheckRetentionBounds(t *testing.T) {
	_, adm := newCluster(t, 1, nil)
	topics := map[string]struct {
		ms, bytes string
		status    posture.Status
	}{
		"phi.max":     {"9223372036854775807", "9223372036854775807", posture.Fail},
		"phi.century": {"3155760000000", "1125899906842624", posture.Fail}, // the bounds themselves
		"phi.month":   {"2592000000", "10737418240", posture.Pass},
	}
	for name, tc := range topics {
		createTopic(t, adm, name, 1, map[string]*string{"retention.ms": kadm.StringPtr(tc.ms), "retention.bytes": kadm.StringPtr(tc.bytes)})
	}
	r, err := posture.Check(ctx(t), adm)
	if err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	for name, tc := range topics {
		for _, check := range []string{"phi-retention-ms", "phi-retention-bytes"} {
			if f := find(t, r, check, "topic "+name); f.Status != tc.status {
				t.Errorf("%s on %s = %s (%s), want %s", check, name, f.Status, f.Actual, tc.status)
			}
		}
	}
}

func TestCheckCleanupPolicy(t *testing.T) {
	_, adm := newCluster(t, 1, nil)
	policies := map[string]posture.Status{"compact": posture.Fail, "compact,delete": posture.Pass, "delete": posture.Pass}
	for policy := range policies {
		createTopic(t, adm, "phi."+strings.ReplaceAll(policy, ",", "-"), 1, map[string]*string{"cleanup.policy": kadm.StringPtr(policy)})
	}
	r, err := posture.Check(ctx(t), adm)
	if err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	for policy, want := range policies {
		resource := "topic phi." + strings.ReplaceAll(policy, ",", "-")
		if f := find(t, r, "phi-cleanup-policy", resource); f.Status != want {
			t.Errorf("phi-cleanup-policy with %q = %s (%s), want %s", policy, f.Status, f.Actual, want)
		}
	}
}
