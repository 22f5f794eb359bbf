package iam_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/kms"
)

func TestPaths(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	cases := []struct {
		name, path, code, msg string
	}{
		{"ok/root", "/", "", ""},
		{"ok/nested", "/division_abc/subdivision_xyz/", "", ""},
		{"ok/printable", "/a!~*?:=/", "", ""},
		{"ok/max", "/" + strings.Repeat("a", 510) + "/", "", ""},
		{"fail/no-leading-slash", "admins/", iam.CodeValidationError, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters."},
		{"fail/no-trailing-slash", "/admins", iam.CodeValidationError, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters."},
		{"fail/double-slash-only", "//", iam.CodeValidationError, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters."},
		{"fail/space", "/a b/", iam.CodeValidationError, `1 validation error detected: Value '/a b/' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`},
		{"fail/non-ascii", "/é/", iam.CodeValidationError, ""},
		{"fail/control", "/a\x00/", iam.CodeValidationError, ""},
		{"fail/too-long", "/" + strings.Repeat("a", 511) + "/", iam.CodeValidationError, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "u" + string(rune('a'+i))
			u, err := d.CreateUser(ctx, acct, name, c.path)
			wantCode(t, err, c.code)
			if c.msg != "" && awserr.As(err).Message != c.msg {
				t.Fatalf("message %q, want %q", awserr.As(err).Message, c.msg)
			}
			_, rerr := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: name, Path: c.path, TrustPolicy: trustFor(acct)})
			wantCode(t, rerr, c.code)
			if err == nil && u.Path != c.path {
				t.Fatalf("path %q, want %q", u.Path, c.path)
			}
		})
	}
}

// TestCallerARNHasPath: an IAM user's caller ARN (GetCallerIdentity,
// aws:PrincipalArn, the audit record) carries the user's path, also for a
// key stored before keys recorded it.
func TestCallerARNHasPath(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	if _, err := d.CreateUser(ctx, acct, "c1", "/contractors/"); err != nil {
		t.Fatal(err)
	}
	k, _, err := d.CreateUserAccessKey(ctx, acct, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:iam::111122223333:user/contractors/c1"
	c, err := d.Caller(ctx, k.ID)
	if err != nil || c.ARN != want {
		t.Fatalf("caller ARN %q (%v), want %q", c.ARN, err, want)
	}
	// A key without a recorded path (as stored before paths were recorded).
	u, _ := d.GetUser(ctx, acct, "c1")
	legacy := iam.NewAccessKeyID(false)
	if err := d.CreateAccessKey(ctx, iam.AccessKey{ID: legacy, Secret: iam.NewSecret(), Account: acct, Type: iam.TypeIAMUser, UserName: "c1", PrincipalID: u.UserID}); err != nil {
		t.Fatal(err)
	}
	if c, err := d.Caller(ctx, legacy); err != nil || c.ARN != want {
		t.Fatalf("legacy key caller ARN %q (%v), want %q", c.ARN, err, want)
	}
}

func TestPrincipalID(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	u, err := d.CreateUser(ctx, acct, "boss", "/admins/")
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "ops", Path: "/team/", TrustPolicy: trustFor(acct)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		arn      string
		id       string
		bindable bool
	}{
		{"arn:aws:iam::111122223333:user/admins/boss", u.UserID, true},
		{"arn:aws:iam::111122223333:user/boss", "", true},           // path differs
		{"arn:aws:iam::111122223333:user/other/boss", "", true},     // path differs
		{"arn:aws:iam::111122223333:role/team/ops", r.RoleID, true}, // role with path
		{"arn:aws:iam::111122223333:role/ops", "", true},            // path differs
		{"arn:aws:sts::111122223333:assumed-role/ops/s1", r.RoleID, true},
		{"arn:aws:sts::111122223333:assumed-role/nope/s1", "", true},
		{"arn:aws:sts::111122223333:assumed-role/ops", "", true},    // no session
		{"arn:aws:iam::444455556666:user/admins/boss", "", true},    // other account
		{"arn:aws-cn:iam::111122223333:user/admins/boss", "", true}, // other partition
		{"arn:aws:iam::111122223333:user/admins/", "", true},        // no name
		{"arn:aws:iam::111122223333:root", "", false},
		{"111122223333", "", false},
		{"logs.amazonaws.com", "", false},
		{"*", "", false},
	}
	for _, c := range cases {
		id, bindable, err := d.PrincipalID(ctx, c.arn)
		if err != nil || id != c.id || bindable != c.bindable {
			t.Errorf("PrincipalID(%s) = %q, %v, %v; want %q, %v", c.arn, id, bindable, err, c.id, c.bindable)
		}
	}
}

// TestTrustPolicyBinding: a trust policy may name only principals that
// exist; it keeps naming them after they are deleted, so that a principal
// re-created under the same name cannot assume the role, and GetRole's
// view shows the old unique ID.
func TestTrustPolicyBinding(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	const bobARN = "arn:aws:iam::111122223333:user/dev/bob"
	_, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "app", TrustPolicy: trustFor(bobARN)})
	wantCode(t, err, iam.CodeMalformedPolicyDocument)
	if msg := awserr.As(err).Message; msg != `Invalid principal in policy: "AWS":"`+bobARN+`"` {
		t.Fatalf("message %q", msg)
	}
	newBob := func() (*kms.Caller, string) {
		t.Helper()
		u, err := d.CreateUser(ctx, acct, "bob", "/dev/")
		if err != nil {
			t.Fatal(err)
		}
		k, _, err := d.CreateUserAccessKey(ctx, acct, "bob")
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.Caller(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c, u.UserID
	}
	bob, bobID := newBob()
	if _, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "app", TrustPolicy: trustFor(bobARN)}); err != nil {
		t.Fatal(err)
	}
	roleARN := "arn:aws:iam::111122223333:role/app"
	if _, err := d.AssumeRole(ctx, bob, iam.AssumeRoleInput{RoleARN: roleARN, SessionName: "s1"}); err != nil {
		t.Fatalf("bob: %v", err)
	}
	r, _ := d.GetRole(ctx, acct, "app")
	if v, err := d.TrustPolicyView(ctx, r); err != nil || v != r.TrustPolicy {
		t.Fatalf("view while bob exists: %q %v", v, err)
	}
	// Delete bob and re-create a user of the same name and path.
	keys, _ := d.ListAccessKeys(ctx, acct, "bob")
	for _, k := range keys {
		wantCode(t, d.DeleteAccessKey(ctx, acct, "bob", k.ID), "")
	}
	wantCode(t, d.DeleteUser(ctx, acct, "bob"), "")
	bob2, _ := newBob()
	if bob2.ARN != bob.ARN {
		t.Fatalf("re-created ARN %q", bob2.ARN)
	}
	_, err = d.AssumeRole(ctx, bob2, iam.AssumeRoleInput{RoleARN: roleARN, SessionName: "s2"})
	wantCode(t, err, iam.CodeAccessDenied)
	v, err := d.TrustPolicyView(ctx, r)
	if err != nil || v != trustFor(bobID) {
		t.Fatalf("view after re-creation: %q %v, want the old ID %s", v, err, bobID)
	}
	// Updating the trust policy binds the new bob.
	wantCode(t, d.UpdateTrustPolicy(ctx, acct, "app", trustFor(bobARN)), "")
	if _, err := d.AssumeRole(ctx, bob2, iam.AssumeRoleInput{RoleARN: roleARN, SessionName: "s3"}); err != nil {
		t.Fatalf("new bob after the update: %v", err)
	}
	wantCode(t, d.UpdateTrustPolicy(ctx, acct, "app", trustFor("arn:aws:iam::111122223333:role/nope")), iam.CodeMalformedPolicyDocument)
}

// TestPrincipalsFileOrder: a role may trust a role declared after it.
func TestPrincipalsFileOrder(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	p, err := iam.ParsePrincipals([]byte(`
accounts:
  - id: "111122223333"
    roles:
      - name: first
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/second"},"Action":"sts:AssumeRole"}]}'
      - name: second
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/ci"},"Action":"sts:AssumeRole"}]}'
  - id: "444455556666"
    users:
      - name: ci
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ApplyPrincipals(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"first", "second"} {
		if _, err := d.GetRole(ctx, acct, n); err != nil {
			t.Fatal(err)
		}
	}
	bad, _ := iam.ParsePrincipals([]byte(`
accounts:
  - id: "111122223333"
    roles:
      - name: self
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/self"},"Action":"sts:AssumeRole"}]}'
`))
	_, err = d.ApplyPrincipals(ctx, bad, nil)
	if err == nil || !strings.Contains(err.Error(), "Invalid principal in policy") {
		t.Fatalf("self-trusting role: %v", err)
	}
}

// TestTargetChanged: an action authorized on a user or role that has
// since been created or re-created (perhaps under a path the
// authorization would have denied) fails with ErrTargetChanged and writes
// nothing, for the caller to authorize again.
func TestTargetChanged(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	u, err := d.CreateUser(ctx, acct, "boss", "/admins/")
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "ops", Path: "/admins/", TrustPolicy: trustFor(acct)})
	if err != nil {
		t.Fatal(err)
	}
	// Authorized while boss and ops did not exist (ID ""), or were others.
	for _, id := range []string{"", "AIDAOLDBOSS"} {
		uctx := iam.WithTarget(ctx, iam.KindUser, acct, "boss", id)
		_, _, err := d.CreateUserAccessKey(uctx, acct, "boss")
		if !errors.Is(err, iam.ErrTargetChanged) {
			t.Fatalf("CreateUserAccessKey: %v", err)
		}
		if err := d.PutUserPolicy(uctx, acct, "boss", "p", allowKMS); !errors.Is(err, iam.ErrTargetChanged) {
			t.Fatalf("PutUserPolicy: %v", err)
		}
		if err := d.DeleteUser(uctx, acct, "boss"); !errors.Is(err, iam.ErrTargetChanged) {
			t.Fatalf("DeleteUser: %v", err)
		}
		rctx := iam.WithTarget(ctx, iam.KindRole, acct, "ops", id)
		if err := d.PutRolePolicy(rctx, acct, "ops", "p", allowKMS); !errors.Is(err, iam.ErrTargetChanged) {
			t.Fatalf("PutRolePolicy: %v", err)
		}
		if err := d.UpdateTrustPolicy(rctx, acct, "ops", trustFor(acct)); !errors.Is(err, iam.ErrTargetChanged) {
			t.Fatalf("UpdateTrustPolicy: %v", err)
		}
		if err := d.DeleteRole(rctx, acct, "ops"); !errors.Is(err, iam.ErrTargetChanged) {
			t.Fatalf("DeleteRole: %v", err)
		}
	}
	if keys, _ := d.ListAccessKeys(ctx, acct, "boss"); len(keys) != 0 {
		t.Fatalf("keys written: %v", keys)
	}
	if ps, _ := d.ListUserPolicies(ctx, acct, "boss"); len(ps) != 0 {
		t.Fatalf("user policies written: %v", ps)
	}
	if ps, _ := d.ListRolePolicies(ctx, acct, "ops"); len(ps) != 0 {
		t.Fatalf("role policies written: %v", ps)
	}
	// Authorized on the same principals, the actions proceed.
	if _, _, err := d.CreateUserAccessKey(iam.WithTarget(ctx, iam.KindUser, acct, "boss", u.UserID), acct, "boss"); err != nil {
		t.Fatal(err)
	}
	if err := d.PutRolePolicy(iam.WithTarget(ctx, iam.KindRole, acct, "ops", r.RoleID), acct, "ops", "p", allowKMS); err != nil {
		t.Fatal(err)
	}
}
