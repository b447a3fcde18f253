package posture

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const aclExpected = "no ALLOW ALL to User:* or on topic *"

// checkACLs lists every ACL and fails each that allows operation ALL to
// the wildcard principal, or on the wildcard topic (the literal name * or
// an empty prefix).
func checkACLs(ctx context.Context, adm *kadm.Client) []Finding {
	all := kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).
		Allow().AllowHosts().Deny().DenyHosts().Operations()
	results, err := adm.DescribeACLs(ctx, all)
	if err == nil {
		for _, r := range results {
			if r.Err != nil {
				err = r.Err
			}
		}
	}

	switch {
	case errors.Is(err, kerr.SecurityDisabled):
		return []Finding{{Check: "authorizer", Severity: High, Status: Fail, Resource: "cluster", Setting: "authorizer",
			Expected: "ACLs enforced", Actual: "no authorizer: DescribeAcls returned SECURITY_DISABLED"}}
	case err != nil:
		return []Finding{{Check: "acl-wildcard-all", Severity: High, Status: Unknown, Resource: "cluster", Setting: "ACLs",
			Expected: aclExpected, Actual: "not reported: " + err.Error()}}
	}

	var out []Finding
	n := 0
	for _, r := range results {
		for _, a := range r.Described {
			n++
			if f, bad := wildcardAll(a); bad {
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		out = append(out, Finding{Check: "acl-wildcard-all", Severity: High, Status: Pass, Resource: "cluster", Setting: "ACLs",
			Expected: aclExpected, Actual: fmt.Sprintf("%d ACL(s), none allows ALL to a wildcard", n)})
	}
	return out
}

func wildcardAll(a kadm.DescribedACL) (Finding, bool) {
	if a.Permission != kmsg.ACLPermissionTypeAllow || a.Operation != kmsg.ACLOperationAll {
		return Finding{}, false
	}
	wildPrincipal := a.Principal == "User:*"
	wildTopic := a.Type == kmsg.ACLResourceTypeTopic &&
		(a.Pattern == kmsg.ACLResourcePatternTypeLiteral && a.Name == "*" ||
			a.Pattern == kmsg.ACLResourcePatternTypePrefixed && a.Name == "")
	if !wildPrincipal && !wildTopic {
		return Finding{}, false
	}
	return Finding{
		Check:    "acl-wildcard-all",
		Severity: High,
		Status:   Fail,
		Resource: fmt.Sprintf("acl %s %s %q", a.Type, a.Pattern, a.Name),
		Setting:  "ACLs",
		Expected: aclExpected,
		Actual:   fmt.Sprintf("ALLOW ALL to %s from host %s", a.Principal, a.Host),
	}, true
}
