package kms_test

import (
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/wire"
)

var gRootB = &kms.Caller{Account: "444455556666", ARN: "arn:aws:iam::444455556666:root", Type: "Root", PrincipalID: "444455556666"}

// TestListRetirableGrantsOwnAccountOnly: the retiring principal must be a
// principal of the caller's account; another account's root learns
// nothing of account A's grants, and the service-principal filter (for
// service callers only) lists nothing either.
func TestListRetirableGrantsOwnAccountOnly(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.key("")
	e.grant(e.svc, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), RetiringPrincipal: sp(gAlice.ARN),
		Operations: []string{"Decrypt"}, Name: sp("payroll")})
	e.grant(e.svc, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteeServicePrincipal: sp("logs.amazonaws.com"),
		RetiringServicePrincipal: sp("logs.amazonaws.com"), Operations: []string{"Decrypt"}, Constraints: &wire.GrantConstraints{SourceArn: sp("arn:aws:logs:us-east-1:111122223333:log-group:x")}})
	for _, c := range []*kms.Caller{gRootB, gCarol} {
		for _, rp := range []string{gAlice.ARN, "arn:aws:iam::111122223333:root", "arn:aws:sts::111122223333:assumed-role/r/s", "alice", "arn:aws-cn:iam::444455556666:root"} {
			out, err := e.svc.ListRetirableGrants(e.as(c), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(rp)})
			if awserr.CodeOf(err) != awserr.AccessDenied || out != nil {
				t.Fatalf("%s lists %s: %+v, %v", c.ARN, rp, out, err)
			}
		}
		out, err := e.svc.ListRetirableGrants(e.as(c), &wire.ListRetirableGrantsInput{RetiringServicePrincipal: sp("logs.amazonaws.com")})
		if awserr.CodeOf(err) != awserr.AccessDenied || out != nil {
			t.Fatalf("%s lists the service principal: %+v, %v", c.ARN, out, err)
		}
	}
	// The owner still sees its grant, and B sees grants whose retiring
	// principal is its own, on A's key.
	out, err := e.svc.ListRetirableGrants(e.as(gRoot), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(gAlice.ARN)})
	if err != nil || len(out.Grants) != 1 {
		t.Fatalf("owner: %+v, %v", out, err)
	}
	e.grant(e.svc, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gCarol.ARN), RetiringPrincipal: sp(gCarol.ARN), Operations: []string{"Decrypt"}})
	out, err = e.svc.ListRetirableGrants(e.as(gRootB), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(gCarol.ARN)})
	if err != nil || len(out.Grants) != 1 || out.Grants[0].RetiringPrincipal != gCarol.ARN {
		t.Fatalf("B's own retiring principal: %+v, %v", out, err)
	}
}

// TestForeignKeyExistenceHidden: for every operation on another account's
// key that the caller may not perform, the answer is the same whether the
// key exists or not, and names no resource.
func TestForeignKeyExistenceHidden(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	hmacSpec, hmacUsage := "HMAC_256", "GENERATE_VERIFY_MAC"
	mac, err := e.svc.CreateKey(e.as(gRoot), &wire.CreateKeyInput{KeySpec: &hmacSpec, KeyUsage: &hmacUsage})
	if err != nil {
		t.Fatal(err)
	}
	exists := "arn:aws:kms:us-east-1:111122223333:key/" + mac.KeyMetadata.KeyID
	missing := "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"
	g0 := "0000000000000000000000000000000000000000000000000000000000000000"
	ops := map[string]func(ref string) error{
		"DescribeKey": func(ref string) error {
			_, err := e.svc.DescribeKey(e.as(gCarol), &wire.KeyIDInput{KeyID: &ref})
			return err
		},
		"Encrypt": func(ref string) error { return encrypt(e.svc, e.as(gCarol), ref, nil) },
		"GetKeyPolicy": func(ref string) error {
			_, err := e.svc.GetKeyPolicy(e.as(gCarol), &wire.KeyPolicyInput{KeyID: &ref})
			return err
		},
		"ListGrants": func(ref string) error {
			_, err := e.svc.ListGrants(e.as(gCarol), &wire.ListGrantsInput{KeyID: &ref})
			return err
		},
		"ListResourceTags": func(ref string) error {
			_, err := e.svc.ListResourceTags(e.as(gCarol), &wire.ListResourceTagsInput{KeyID: &ref})
			return err
		},
		"ListAliases": func(ref string) error {
			_, err := e.svc.ListAliases(e.as(gCarol), &wire.ListAliasesInput{KeyID: &ref})
			return err
		},
		"CreateGrant": func(ref string) error {
			_, err := e.svc.CreateGrant(e.as(gCarol), &wire.CreateGrantInput{KeyID: &ref, GranteePrincipal: sp(gCarol.ARN), Operations: []string{"Sign"}})
			return err
		},
		"RetireGrant": func(ref string) error {
			_, err := e.svc.RetireGrant(e.as(gCarol), &wire.RetireGrantInput{KeyID: &ref, GrantID: sp(g0)})
			return err
		},
		"GenerateDataKey": func(ref string) error {
			_, err := e.svc.GenerateDataKey(e.as(gCarol), &wire.GenerateDataKeyInput{KeyID: &ref, KeySpec: sp("AES_256")})
			return err
		},
	}
	for name, op := range ops {
		a, b := op(exists), op(missing)
		ea, eb := awserr.As(a), awserr.As(b)
		if ea == nil || eb == nil || ea.Code != awserr.AccessDenied || ea.Message != eb.Message {
			t.Errorf("%s: existing key %v; missing key %v", name, a, b)
			continue
		}
		if want := policy.DenyCrossAccount(gCarol.ARN, "kms:"+name); ea.Message != want.Message {
			t.Errorf("%s: message %q, want %q", name, ea.Message, want.Message)
		}
	}
}
