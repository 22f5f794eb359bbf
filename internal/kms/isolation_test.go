package kms_test

import (
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/wire"
)

// TestForeignKeyExistenceHidden: for every operation on another account's
// key that the caller may not perform, the answer is the same whether the
// key exists or not, and names no resource.
func TestForeignKeyExistenceHidden(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	hmacSpec, hmacUsage := "HMAC_256", "GENERATE_VERIFY_MAC"
	mac, err := e.Node.CreateKey(e.As(gRoot), &wire.CreateKeyInput{KeySpec: &hmacSpec, KeyUsage: &hmacUsage})
	if err != nil {
		t.Fatal(err)
	}
	exists := "arn:aws:kms:us-east-1:111122223333:key/" + mac.KeyMetadata.KeyID
	missing := "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"
	g0 := "0000000000000000000000000000000000000000000000000000000000000000"
	ops := map[string]func(ref string) error{
		"DescribeKey": func(ref string) error {
			_, err := e.Node.DescribeKey(e.As(gCarol), &wire.KeyIDInput{KeyID: &ref})
			return err
		},
		"Encrypt": func(ref string) error { return encrypt(e.Node, e.As(gCarol), ref, nil) },
		"GetKeyPolicy": func(ref string) error {
			_, err := e.Node.GetKeyPolicy(e.As(gCarol), &wire.KeyPolicyInput{KeyID: &ref})
			return err
		},
		"ListGrants": func(ref string) error {
			_, err := e.Node.Grants.ListGrants(e.As(gCarol), &wire.ListGrantsInput{KeyID: &ref})
			return err
		},
		"ListResourceTags": func(ref string) error {
			_, err := e.Node.ListResourceTags(e.As(gCarol), &wire.ListResourceTagsInput{KeyID: &ref})
			return err
		},
		"ListAliases": func(ref string) error {
			_, err := e.Node.ListAliases(e.As(gCarol), &wire.ListAliasesInput{KeyID: &ref})
			return err
		},
		"CreateGrant": func(ref string) error {
			_, err := e.Node.Grants.CreateGrant(e.As(gCarol), &wire.CreateGrantInput{KeyID: &ref, GranteePrincipal: sp(gCarol.ARN), Operations: []string{"Sign"}})
			return err
		},
		"RetireGrant": func(ref string) error {
			_, err := e.Node.Grants.RetireGrant(e.As(gCarol), &wire.RetireGrantInput{KeyID: &ref, GrantID: sp(g0)})
			return err
		},
		"GenerateDataKey": func(ref string) error {
			_, err := e.Node.GenerateDataKey(e.As(gCarol), &wire.GenerateDataKeyInput{KeyID: &ref, KeySpec: sp("AES_256")})
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
