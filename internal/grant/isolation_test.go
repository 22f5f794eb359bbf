package grant_test

import (
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/wire"
)

// TestListRetirableGrantsOwnAccountOnly: the retiring principal must be a
// principal of the caller's account; another account's root learns
// nothing of account A's grants, and the service-principal filter (for
// service callers only) lists nothing either.
func TestListRetirableGrantsOwnAccountOnly(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), RetiringPrincipal: sp(gAlice.ARN),
		Operations: []string{"Decrypt"}, Name: sp("payroll")})
	e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteeServicePrincipal: sp("logs.amazonaws.com"),
		RetiringServicePrincipal: sp("logs.amazonaws.com"), Operations: []string{"Decrypt"}, Constraints: &wire.GrantConstraints{SourceArn: sp("arn:aws:logs:us-east-1:111122223333:log-group:x")}})
	for _, c := range []*kms.Caller{gRootB, gCarol} {
		for _, rp := range []string{gAlice.ARN, "arn:aws:iam::111122223333:root", "arn:aws:sts::111122223333:assumed-role/r/s", "alice", "arn:aws-cn:iam::444455556666:root"} {
			out, err := e.Node.Grants.ListRetirableGrants(e.As(c), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(rp)})
			if awserr.CodeOf(err) != awserr.AccessDenied || out != nil {
				t.Fatalf("%s lists %s: %+v, %v", c.ARN, rp, out, err)
			}
		}
		out, err := e.Node.Grants.ListRetirableGrants(e.As(c), &wire.ListRetirableGrantsInput{RetiringServicePrincipal: sp("logs.amazonaws.com")})
		if awserr.CodeOf(err) != awserr.AccessDenied || out != nil {
			t.Fatalf("%s lists the service principal: %+v, %v", c.ARN, out, err)
		}
	}
	// The owner still sees its grant, and B sees grants whose retiring
	// principal is its own, on A's key.
	out, err := e.Node.Grants.ListRetirableGrants(e.As(gRoot), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(gAlice.ARN)})
	if err != nil || len(out.Grants) != 1 {
		t.Fatalf("owner: %+v, %v", out, err)
	}
	e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gCarol.ARN), RetiringPrincipal: sp(gCarol.ARN), Operations: []string{"Decrypt"}})
	out, err = e.Node.Grants.ListRetirableGrants(e.As(gRootB), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(gCarol.ARN)})
	if err != nil || len(out.Grants) != 1 || out.Grants[0].RetiringPrincipal != gCarol.ARN {
		t.Fatalf("B's own retiring principal: %+v, %v", out, err)
	}
}
