package posture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	aclAllExpected  = "no ALLOW ALL to User:* or on topic *"
	aclReadExpected = "no ALLOW READ to User:* on PHI topics"
)

// checkACLs lists every ACL. It fails each that allows operation ALL to
// the wildcard principal or on the wildcard topic (the literal name * or an
// empty prefix). It also fails each that allows READ to the wildcard
// principal on a topic resource that covers PHI topics.
//
// NOTE: ALLOW DESCRIBE to User:* is not flagged, although it lets every
// principal list PHI topic names; it exposes no record.
func checkACLs(ctx context.Context, adm *kadm.Client, phi phiTopics) []Finding {
	acls, err := describeACLs(ctx, adm)
	switch {
	case errors.Is(err, kerr.SecurityDisabled):
		return []Finding{{Check: "authorizer", Severity: High, Status: Fail, Resource: "cluster", Setting: "authorizer",
			Expected: "ACLs enforced", Actual: "no authorizer: DescribeAcls returned SECURITY_DISABLED"}}
	case err != nil:
		actual := "not reported: " + err.Error()
		return []Finding{
			{Check: "acl-wildcard-all", Severity: High, Status: Unknown, Resource: "cluster", Setting: "ACLs", Expected: aclAllExpected, Actual: actual},
			{Check: "acl-wildcard-read", Severity: High, Status: Unknown, Resource: "cluster", Setting: "ACLs", Expected: aclReadExpected, Actual: actual},
		}
	}

	var all, read []Finding
	for _, a := range acls {
		if f, bad := wildcardAll(a); bad {
			all = append(all, f)
		}
		if f, bad := wildcardRead(a, phi); bad {
			read = append(read, f)
		}
	}
	if len(all) == 0 {
		all = append(all, Finding{Check: "acl-wildcard-all", Severity: High, Status: Pass, Resource: "cluster", Setting: "ACLs",
			Expected: aclAllExpected, Actual: fmt.Sprintf("%d ACL(s), none allows ALL to a wildcard", len(acls))})
	}
	if len(read) == 0 {
		read = append(read, Finding{Check: "acl-wildcard-read", Severity: High, Status: Pass, Resource: "cluster", Setting: "ACLs",
			Expected: aclReadExpected, Actual: fmt.Sprintf("%d ACL(s), none allows READ on PHI topics to User:*", len(acls))})
	}
	return append(all, read...)
}

// describeACLs returns every ACL of the cluster, or the first error.
func describeACLs(ctx context.Context, adm *kadm.Client) ([]kadm.DescribedACL, error) {
	all := kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).
		Allow().AllowHosts().Deny().DenyHosts().Operations()
	results, err := adm.DescribeACLs(ctx, all)
	if err != nil {
		return nil, err
	}
	var acls []kadm.DescribedACL
	for _, r := range results {
		if r.Err != nil {
			return nil, r.Err
		}
		acls = append(acls, r.Described...)
	}
	return acls, nil
}

func wildcardAll(a kadm.DescribedACL) (Finding, bool) {
	if a.Permission != kmsg.ACLPermissionTypeAllow || a.Operation != kmsg.ACLOperationAll {
		return Finding{}, false
	}
	if a.Principal != "User:*" && !wildcardTopic(a) {
		return Finding{}, false
	}
	return aclFinding("acl-wildcard-all", aclAllExpected, a), true
}

// wildcardRead reports an ALLOW READ to User:* on a topic resource that
// covers a PHI topic. ALLOW ALL is left to wildcardAll.
func wildcardRead(a kadm.DescribedACL, phi phiTopics) (Finding, bool) {
	if a.Permission != kmsg.ACLPermissionTypeAllow || a.Operation != kmsg.ACLOperationRead ||
		a.Principal != "User:*" || a.Type != kmsg.ACLResourceTypeTopic {
		return Finding{}, false
	}
	if !wildcardTopic(a) && !phi.covers(a.Pattern, a.Name) {
		return Finding{}, false
	}
	return aclFinding("acl-wildcard-read", aclReadExpected, a), true
}

// wildcardTopic reports whether a names every topic: the literal name *
// or an empty prefix.
func wildcardTopic(a kadm.DescribedACL) bool {
	return a.Type == kmsg.ACLResourceTypeTopic &&
		(a.Pattern == kmsg.ACLResourcePatternTypeLiteral && a.Name == "*" ||
			a.Pattern == kmsg.ACLResourcePatternTypePrefixed && a.Name == "")
}

// covers reports whether a topic ACL with this pattern type and name
// applies to a PHI topic. A literal name covers one when the PHI pattern
// matches it. A prefix covers one when a visible PHI topic starts with it
// or the PHI pattern matches the prefix itself. The second rule is a
// heuristic for PHI topics the client cannot see or that do not exist yet.
func (p phiTopics) covers(pattern kmsg.ACLResourcePatternType, name string) bool {
	if p.pattern == nil {
		return !strings.HasPrefix(name, "__") // Kafka's internal topics start with __
	}
	switch pattern {
	case kmsg.ACLResourcePatternTypeLiteral:
		return p.pattern.MatchString(name)
	case kmsg.ACLResourcePatternTypePrefixed:
		for _, n := range p.names {
			if strings.HasPrefix(n, name) {
				return true
			}
		}
		return p.pattern.MatchString(name)
	}
	return false
}

func aclFinding(check, expected string, a kadm.DescribedACL) Finding {
	return Finding{
		Check:    check,
		Severity: High,
		Status:   Fail,
		Resource: fmt.Sprintf("acl %s %s %q", a.Type, a.Pattern, a.Name),
		Setting:  "ACLs",
		Expected: expected,
		Actual:   fmt.Sprintf("ALLOW %s to %s from host %s", a.Operation, a.Principal, a.Host),
	}
}
