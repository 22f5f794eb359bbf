package kms_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/authz"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/wire"
)

// boundIdentities is an identity source that also resolves principals
// (authz.PrincipalResolver): IAM user and role ARN -> current unique ID.
type boundIdentities struct {
	kmstest.Identities
	mu  sync.Mutex
	ids map[string]string
}

func (b *boundIdentities) PrincipalID(_ context.Context, arn string) (string, bool, error) {
	if !strings.Contains(arn, ":user/") && !strings.Contains(arn, ":role/") {
		return "", false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[arn], true, nil
}

func (b *boundIdentities) set(arn, id string) {
	b.mu.Lock()
	b.ids[arn] = id
	b.mu.Unlock()
}

// TestPrincipalsBoundToUniqueIDs: key policies and grants name the
// principals that existed when they were stored. A user deleted and
// re-created under the same name (a new unique ID) is neither allowed by the
// key policy nor the grantee or retiring principal of the grants, and
// GetKeyPolicy and ListGrants show the old unique ID.
func TestPrincipalsBoundToUniqueIDs(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	ids := &boundIdentities{
		ids: map[string]string{gBob.ARN: "AIDABOB", gAlice.ARN: "AIDAALICE"}}
	e.Node.SetAuthorizer(authz.New(authz.Config{Identities: ids}))
	ctx := context.Background()

	const nobody = "arn:aws:iam::111122223333:user/nobody"
	_, err := e.Node.CreateKey(e.As(gRoot), &wire.CreateKeyInput{Policy: sp(`{"Version":"2012-10-17","Statement":[` + rootStmt +
		`,{"Effect":"Allow","Principal":{"AWS":"` + nobody + `"},"Action":"kms:Encrypt","Resource":"*"}]}`)})
	wantCode(t, err, awserr.MalformedPolicyDocument)

	policyDoc := `{"Version":"2012-10-17","Statement":[` + rootStmt +
		`,{"Effect":"Allow","Principal":{"AWS":"` + gBob.ARN + `"},"Action":"kms:Encrypt","Resource":"*"}]}`
	key := e.Key(policyDoc)
	grantKey := e.Key("")
	g := e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &grantKey, GranteePrincipal: sp(gBob.ARN), RetiringPrincipal: sp(gAlice.ARN),
		Operations: []string{"Encrypt"}, Name: sp("bob")})
	_, err = e.Node.Grants.CreateGrant(e.As(gRoot), &wire.CreateGrantInput{KeyID: &grantKey, GranteePrincipal: sp(nobody), Operations: []string{"Encrypt"}})
	wantCode(t, err, awserr.InvalidArn)
	_, err = e.Node.Grants.CreateGrant(e.As(gRoot), &wire.CreateGrantInput{KeyID: &grantKey, GranteePrincipal: sp(gBob.ARN), RetiringPrincipal: sp(nobody), Operations: []string{"Encrypt"}})
	wantCode(t, err, awserr.InvalidArn)

	wantCode(t, encrypt(e.Node, e.As(gBob), key, nil), "")
	wantCode(t, encrypt(e.Node, e.As(gBob), grantKey, nil, g.GrantToken), "")
	if out, err := e.Node.GetKeyPolicy(e.As(gRoot), &wire.KeyPolicyInput{KeyID: &key}); err != nil || out.Policy != policyDoc {
		t.Fatalf("GetKeyPolicy while bob exists: %v %q", err, out.Policy)
	}

	// bob and alice are deleted and re-created under the same names.
	ids.set(gBob.ARN, "AIDANEWBOB")
	ids.set(gAlice.ARN, "AIDANEWALICE")
	newBob, newAlice := *gBob, *gAlice
	newBob.PrincipalID, newAlice.PrincipalID = "AIDANEWBOB", "AIDANEWALICE"

	wantCode(t, encrypt(e.Node, e.As(&newBob), key, nil), awserr.AccessDenied)
	wantCode(t, encrypt(e.Node, e.As(&newBob), grantKey, nil, g.GrantToken), awserr.AccessDenied)
	_, err = e.Node.Grants.RetireGrant(e.As(&newAlice), &wire.RetireGrantInput{GrantToken: &g.GrantToken})
	wantCode(t, err, awserr.AccessDenied)

	out, err := e.Node.GetKeyPolicy(e.As(gRoot), &wire.KeyPolicyInput{KeyID: &key})
	if err != nil || out.Policy != strings.Replace(policyDoc, `"`+gBob.ARN+`"`, `"AIDABOB"`, 1) {
		t.Fatalf("GetKeyPolicy after re-creation: %v %s", err, out.Policy)
	}
	lg, err := e.Node.Grants.ListGrants(e.As(gRoot), &wire.ListGrantsInput{KeyID: &grantKey})
	if err != nil || len(lg.Grants) != 1 || lg.Grants[0].GranteePrincipal != "AIDABOB" || lg.Grants[0].RetiringPrincipal != "AIDAALICE" {
		t.Fatalf("ListGrants after re-creation: %v %+v", err, lg)
	}

	// Listing by ARN finds the principals of today, not the deleted ones.
	if lg, err := e.Node.Grants.ListGrants(e.As(gRoot), &wire.ListGrantsInput{KeyID: &grantKey, GranteePrincipal: sp(gBob.ARN)}); err != nil || len(lg.Grants) != 0 {
		t.Fatalf("ListGrants by the re-created grantee: %v %+v", err, lg)
	}
	if rg, err := e.Node.Grants.ListRetirableGrants(e.As(gRoot), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(gAlice.ARN)}); err != nil || len(rg.Grants) != 0 {
		t.Fatalf("ListRetirableGrants by the re-created retiring principal: %v %+v", err, rg)
	}

	// The same named grant for the new bob is a new grant, bound to him.
	g2 := e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &grantKey, GranteePrincipal: sp(gBob.ARN), RetiringPrincipal: sp(gAlice.ARN),
		Operations: []string{"Encrypt"}, Name: sp("bob")})
	if g2.GrantID == g.GrantID {
		t.Fatal("CreateGrant with the same Name returned the old principal's grant")
	}
	wantCode(t, encrypt(e.Node, e.As(&newBob), grantKey, nil, g2.GrantToken), "")
	if lg, err := e.Node.Grants.ListGrants(e.As(gRoot), &wire.ListGrantsInput{KeyID: &grantKey, GranteePrincipal: sp(gBob.ARN)}); err != nil ||
		len(lg.Grants) != 1 || lg.Grants[0].GrantID != g2.GrantID || lg.Grants[0].GranteePrincipal != gBob.ARN {
		t.Fatalf("ListGrants by the new grantee: %v %+v", err, lg)
	}
	if rg, err := e.Node.Grants.ListRetirableGrants(e.As(gRoot), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(gAlice.ARN)}); err != nil || len(rg.Grants) != 1 {
		t.Fatalf("ListRetirableGrants by the new retiring principal: %v %+v", err, rg)
	}
	// A policy put again binds the new bob.
	if _, err := e.Node.PutKeyPolicy(e.As(gRoot), &wire.KeyPolicyInput{KeyID: &key, Policy: &policyDoc}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, encrypt(e.Node, e.As(&newBob), key, nil), "")
	wantCode(t, encrypt(e.Node, kms.WithCaller(ctx, gBob), key, nil), awserr.AccessDenied)
}

const rootStmt = `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`
