package iam_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/sigv4"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

const acct = "111122223333"

var rootCaller = &kms.Caller{Account: acct, ARN: "arn:aws:iam::" + acct + ":root", Type: iam.TypeRoot, PrincipalID: acct}

func newDir(t testing.TB) (*iam.Directory, store.Store) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return iam.New(st, root, "aws", nil), st
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err is an *awserr.Error with code (or err is nil
// and code is "").
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	e := awserr.As(err)
	if e == nil || e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

const allowKMS = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`

func trustFor(principal string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"}]}`
}

func TestUsers(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	u, err := d.CreateUser(ctx, acct, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.UserID, "AIDA") || len(u.UserID) != 21 || u.Path != "/" {
		t.Fatalf("user = %+v", u)
	}
	if got := d.UserARN(acct, "alice", u.Path); got != "arn:aws:iam::111122223333:user/alice" {
		t.Fatalf("ARN = %s", got)
	}
	tests := []struct {
		name string
		run  func() error
		code string
		msg  string
	}{
		{"fail/duplicate", func() error { _, err := d.CreateUser(ctx, acct, "alice", ""); return err }, iam.CodeEntityAlreadyExists, "User with name alice already exists."},
		{"fail/bad-name", func() error { _, err := d.CreateUser(ctx, acct, "a/b", ""); return err }, iam.CodeValidationError, ""},
		{"fail/long-name", func() error { _, err := d.CreateUser(ctx, acct, strings.Repeat("a", 65), ""); return err }, iam.CodeValidationError, ""},
		{"fail/bad-path", func() error { _, err := d.CreateUser(ctx, acct, "bob", "x"); return err }, iam.CodeValidationError, ""},
		{"fail/get-missing", func() error { _, err := d.GetUser(ctx, acct, "nobody"); return err }, iam.CodeNoSuchEntity, "The user with name nobody cannot be found."},
		{"fail/other-account", func() error { _, err := d.GetUser(ctx, "444455556666", "alice"); return err }, iam.CodeNoSuchEntity, ""},
		{"fail/delete-missing", func() error { return d.DeleteUser(ctx, acct, "nobody") }, iam.CodeNoSuchEntity, ""},
		{"ok/get", func() error { _, err := d.GetUser(ctx, acct, "alice"); return err }, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			wantCode(t, err, tc.code)
			if tc.msg != "" && awserr.As(err).Message != tc.msg {
				t.Fatalf("message = %q, want %q", awserr.As(err).Message, tc.msg)
			}
		})
	}
	us, err := d.ListUsers(ctx, acct)
	if err != nil || len(us) != 1 || us[0].Name != "alice" {
		t.Fatalf("ListUsers = %v, %v", us, err)
	}
}

func TestAccessKeysAndDeleteConflict(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	if _, err := d.CreateUser(ctx, acct, "bob", ""); err != nil {
		t.Fatal(err)
	}
	k1, s1, err := d.CreateUserAccessKey(ctx, acct, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k1.ID, "AKIA") || len(k1.ID) != 20 || len(s1) != 40 {
		t.Fatalf("key %s secret length %d", k1.ID, len(s1))
	}
	// The key verifies and names its principal.
	sec, err := d.Lookup(ctx, k1.ID)
	if err != nil || string(sec.Key) != s1 {
		t.Fatalf("Lookup: %v", err)
	}
	c, err := d.Caller(ctx, k1.ID)
	if err != nil || c.ARN != "arn:aws:iam::111122223333:user/bob" || c.Type != iam.TypeIAMUser || !strings.HasPrefix(c.PrincipalID, "AIDA") {
		t.Fatalf("Caller = %+v, %v", c, err)
	}
	if _, _, err := d.CreateUserAccessKey(ctx, acct, "bob"); err != nil {
		t.Fatal(err)
	}
	_, _, err = d.CreateUserAccessKey(ctx, acct, "bob")
	wantCode(t, err, iam.CodeLimitExceeded)
	ks, err := d.ListAccessKeys(ctx, acct, "bob")
	if err != nil || len(ks) != 2 {
		t.Fatalf("ListAccessKeys = %v, %v", ks, err)
	}
	statusTests := []struct{ name, user, key, status, code string }{
		{"ok/deactivate", "bob", k1.ID, "Inactive", ""},
		{"fail/bad-status", "bob", k1.ID, "Off", iam.CodeValidationError},
		{"fail/other-user", "alice", k1.ID, "Active", iam.CodeNoSuchEntity},
		{"fail/as-root-key", "", k1.ID, "Active", iam.CodeNoSuchEntity},
	}
	for _, tc := range statusTests {
		t.Run("status/"+tc.name, func(t *testing.T) {
			wantCode(t, d.UpdateAccessKey(ctx, acct, tc.user, tc.key, tc.status), tc.code)
		})
	}
	if _, err := d.Lookup(ctx, k1.ID); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
		t.Fatalf("inactive key still verifies: %v", err)
	}
	wantCode(t, d.UpdateAccessKey(ctx, acct, "bob", k1.ID, "Active"), "")
	if _, err := d.Lookup(ctx, k1.ID); err != nil {
		t.Fatalf("reactivated key: %v", err)
	}
	wantCode(t, d.PutUserPolicy(ctx, acct, "bob", "p", allowKMS), "")
	wantCode(t, d.DeleteUser(ctx, acct, "bob"), iam.CodeDeleteConflict)
	for _, k := range ks {
		wantCode(t, d.DeleteAccessKey(ctx, acct, "bob", k.ID), "")
	}
	// A deleted key no longer verifies, at once on this node.
	if _, err := d.Lookup(ctx, k1.ID); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
		t.Fatalf("Lookup after delete = %v", err)
	}
	wantCode(t, d.DeleteAccessKey(ctx, acct, "bob", k1.ID), iam.CodeNoSuchEntity)
	err = d.DeleteUser(ctx, acct, "bob")
	wantCode(t, err, iam.CodeDeleteConflict)
	if awserr.As(err).Message != "Cannot delete entity, must delete policies first." {
		t.Fatalf("message = %q", awserr.As(err).Message)
	}
	wantCode(t, d.DeleteUserPolicy(ctx, acct, "bob", "p"), "")
	wantCode(t, d.DeleteUser(ctx, acct, "bob"), "")
	_, err = d.GetUser(ctx, acct, "bob")
	wantCode(t, err, iam.CodeNoSuchEntity)
}

func TestPoliciesAndIdentityPolicies(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	if _, err := d.CreateUser(ctx, acct, "carol", ""); err != nil {
		t.Fatal(err)
	}
	carol := &kms.Caller{Account: acct, Type: iam.TypeIAMUser, UserName: "carol", ARN: "arn:aws:iam::111122223333:user/carol"}
	tests := []struct {
		name, policy, doc, code string
	}{
		{"ok/kms", "kms", allowKMS, ""},
		{"fail/not-json", "bad", "{", iam.CodeMalformedPolicyDocument},
		{"fail/principal-in-identity", "bad", trustFor("*"), iam.CodeMalformedPolicyDocument},
		{"fail/bad-name", "a b", allowKMS, iam.CodeValidationError},
		{"fail/too-big", "big", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":["` + strings.Repeat("x", 2100) + `"]}]}`, iam.CodeLimitExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, d.PutUserPolicy(ctx, acct, "carol", tc.policy, tc.doc), tc.code)
		})
	}
	wantCode(t, d.PutUserPolicy(ctx, acct, "nobody", "p", allowKMS), iam.CodeNoSuchEntity)
	docs, err := d.IdentityPolicies(ctx, carol)
	if err != nil || len(docs) != 1 || docs[0] != allowKMS {
		t.Fatalf("IdentityPolicies = %v, %v", docs, err)
	}
	// Writes on this node are visible at once (the cache is invalidated).
	wantCode(t, d.PutUserPolicy(ctx, acct, "carol", "iam", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}}`), "")
	docs, _ = d.IdentityPolicies(ctx, carol)
	if len(docs) != 2 {
		t.Fatalf("after put: %d policies", len(docs))
	}
	names, err := d.ListUserPolicies(ctx, acct, "carol")
	if err != nil || strings.Join(names, ",") != "iam,kms" {
		t.Fatalf("ListUserPolicies = %v, %v", names, err)
	}
	got, err := d.GetUserPolicy(ctx, acct, "carol", "kms")
	if err != nil || got != allowKMS {
		t.Fatalf("GetUserPolicy = %q, %v", got, err)
	}
	_, err = d.GetUserPolicy(ctx, acct, "carol", "none")
	wantCode(t, err, iam.CodeNoSuchEntity)
	// The root has no identity policies; IAM actions are decided by them.
	if docs, _ := d.IdentityPolicies(ctx, rootCaller); docs != nil {
		t.Fatalf("root policies = %v", docs)
	}
	authz := []struct {
		name   string
		caller *kms.Caller
		action string
		code   string
	}{
		{"ok/root", rootCaller, "iam:CreateUser", ""},
		{"ok/allowed", carol, "iam:GetUser", ""},
		{"fail/not-allowed", carol, "iam:CreateUser", iam.CodeAccessDenied},
	}
	for _, tc := range authz {
		t.Run("authorize/"+tc.name, func(t *testing.T) {
			wantCode(t, d.AuthorizeIAM(ctx, tc.caller, tc.action, d.UserARN(acct, "x", "/")), tc.code)
		})
	}
	wantCode(t, d.DeleteUserPolicy(ctx, acct, "carol", "iam"), "")
	if docs, _ := d.IdentityPolicies(ctx, carol); len(docs) != 1 {
		t.Fatalf("after delete: %d policies", len(docs))
	}
}

// TestIdentityPoliciesCoherence checks that a write by another node (a
// second Directory on the same store) reaches the cache through the change
// feed invalidation registered by Watch.
func TestIdentityPoliciesCoherence(t *testing.T) {
	t.Parallel()
	d1, st := newDir(t)
	root, _ := rootkey.NewStatic(make([]byte, 32))
	d2 := iam.New(st, root, "aws", nil)
	inval := map[string]func(string){}
	d1.Watch(func(kind string, fn func(string)) { inval[kind] = fn })
	for _, k := range []string{iam.KindAccessKey, iam.KindUserPolicy, iam.KindRolePolicy} {
		if inval[k] == nil {
			t.Fatalf("Watch did not register %s", k)
		}
	}
	ctx := ctxT(t)
	d2.CreateUser(ctx, acct, "dave", "")
	dave := &kms.Caller{Account: acct, Type: iam.TypeIAMUser, UserName: "dave"}
	if docs, _ := d1.IdentityPolicies(ctx, dave); len(docs) != 0 {
		t.Fatal("unexpected policies")
	}
	wantCode(t, d2.PutUserPolicy(ctx, acct, "dave", "p", allowKMS), "")
	if docs, _ := d1.IdentityPolicies(ctx, dave); len(docs) != 0 {
		t.Fatal("cache was not used (test premise)")
	}
	inval[iam.KindUserPolicy](acct + "/dave/p")
	if docs, _ := d1.IdentityPolicies(ctx, dave); len(docs) != 1 {
		t.Fatal("invalidation did not reach the cache")
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	tests := []struct {
		name string
		in   iam.RoleInput
		code string
	}{
		{"ok/create", iam.RoleInput{Account: acct, Name: "app", TrustPolicy: trustFor(acct)}, ""},
		{"fail/duplicate", iam.RoleInput{Account: acct, Name: "app", TrustPolicy: trustFor(acct)}, iam.CodeEntityAlreadyExists},
		{"fail/bad-trust", iam.RoleInput{Account: acct, Name: "r2", TrustPolicy: `{"Statement":[]`}, iam.CodeMalformedPolicyDocument},
		{"fail/trust-without-principal", iam.RoleInput{Account: acct, Name: "r3", TrustPolicy: allowKMS}, iam.CodeMalformedPolicyDocument},
		{"fail/max-session", iam.RoleInput{Account: acct, Name: "r4", TrustPolicy: trustFor(acct), MaxSessionDuration: 100}, iam.CodeValidationError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.CreateRole(ctx, tc.in)
			wantCode(t, err, tc.code)
		})
	}
	r, err := d.GetRole(ctx, acct, "app")
	if err != nil || !strings.HasPrefix(r.RoleID, "AROA") || r.MaxSessionDuration != 3600 {
		t.Fatalf("GetRole = %+v, %v", r, err)
	}
	wantCode(t, d.PutRolePolicy(ctx, acct, "app", "p", allowKMS), "")
	wantCode(t, d.DeleteRole(ctx, acct, "app"), iam.CodeDeleteConflict)
	wantCode(t, d.DeleteRolePolicy(ctx, acct, "app", "p"), "")
	wantCode(t, d.DeleteRole(ctx, acct, "app"), "")
	_, err = d.GetRole(ctx, acct, "app")
	wantCode(t, err, iam.CodeNoSuchEntity)
}

func TestAssumeRole(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	const other = "444455556666"
	mustUser := func(account, name, policy string) *kms.Caller {
		t.Helper()
		if _, err := d.CreateUser(ctx, account, name, ""); err != nil {
			t.Fatal(err)
		}
		if policy != "" {
			if err := d.PutUserPolicy(ctx, account, name, "p", policy); err != nil {
				t.Fatal(err)
			}
		}
		k, _, err := d.CreateUserAccessKey(ctx, account, name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.Caller(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	allowAssume := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`
	named := mustUser(acct, "named", "")
	plain := mustUser(acct, "plain", "")
	permitted := mustUser(acct, "permitted", allowAssume)
	foreign := mustUser(other, "foreign", allowAssume)
	foreignPlain := mustUser(other, "foreignplain", "")
	foreignRoot := &kms.Caller{Account: other, ARN: "arn:aws:iam::" + other + ":root", Type: iam.TypeRoot, PrincipalID: other}
	roles := map[string]string{
		"byuser":    trustFor("arn:aws:iam::" + acct + ":user/named"),
		"byaccount": trustFor(acct),
		"byother":   trustFor(other),
		"byexternal": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct +
			`:user/named"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"xyz"}}}]}`,
	}
	for name, trust := range roles {
		if _, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: name, TrustPolicy: trust}); err != nil {
			t.Fatal(err)
		}
	}
	arn := func(role string) string { return "arn:aws:iam::" + acct + ":role/" + role }
	tests := []struct {
		name   string
		caller *kms.Caller
		role   string
		dur    time.Duration
		code   string
		ext    string
	}{
		{"ok/external-id", named, "byexternal", 0, "", "xyz"},
		{"fail/wrong-external-id", named, "byexternal", 0, iam.CodeAccessDenied, "abc"},
		{"fail/missing-external-id", named, "byexternal", 0, iam.CodeAccessDenied, ""},
		{"ok/trust-names-user", named, "byuser", 0, "", ""},
		{"ok/account-trust-and-identity-policy", permitted, "byaccount", 0, "", ""},
		{"ok/account-root", rootCaller, "byaccount", 0, "", ""},
		{"ok/cross-account-with-identity-policy", foreign, "byother", 0, "", ""},
		{"ok/cross-account-root", foreignRoot, "byother", 0, "", ""},
		{"ok/max-duration", named, "byuser", time.Hour, "", ""},
		{"fail/account-trust-without-identity-policy", plain, "byaccount", 0, iam.CodeAccessDenied, ""},
		{"fail/not-trusted", plain, "byuser", 0, iam.CodeAccessDenied, ""},
		{"fail/cross-account-without-identity-policy", foreignPlain, "byother", 0, iam.CodeAccessDenied, ""},
		{"fail/other-account-not-trusted", foreign, "byaccount", 0, iam.CodeAccessDenied, ""},
		{"fail/no-such-role", rootCaller, "nope", 0, iam.CodeAccessDenied, ""},
		{"fail/too-short", named, "byuser", 899 * time.Second, iam.CodeValidationError, ""},
		{"fail/over-role-max", named, "byuser", 3601 * time.Second, iam.CodeValidationError, ""},
		{"fail/over-limit", named, "byuser", 43201 * time.Second, iam.CodeValidationError, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.AssumeRole(ctx, tc.caller, iam.AssumeRoleInput{RoleARN: arn(tc.role), SessionName: "s-1", Duration: tc.dur, ExternalID: tc.ext})
			wantCode(t, err, tc.code)
			if tc.code == iam.CodeAccessDenied {
				want := fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", tc.caller.ARN, arn(tc.role))
				if msg := awserr.As(err).Message; msg != want {
					t.Fatalf("message = %q, want %q", msg, want)
				}
			}
			if err != nil {
				return
			}
			if !strings.HasPrefix(res.Credentials.AccessKeyID, "ASIA") || res.ARN != "arn:aws:sts::"+acct+":assumed-role/"+tc.role+"/s-1" {
				t.Fatalf("result = %+v", res)
			}
			sec, err := d.Lookup(ctx, res.Credentials.AccessKeyID)
			tok := sha256.Sum256([]byte(res.Credentials.SessionToken))
			if err != nil || sec.SessionToken != "" || !bytes.Equal(sec.SessionTokenSHA256, tok[:]) || sec.Expires.IsZero() {
				t.Fatalf("Lookup = %+v, %v", sec.Expires, err)
			}
			c, _ := d.Caller(ctx, res.Credentials.AccessKeyID)
			if c.Type != iam.TypeAssumedRole || c.ARN != res.ARN || c.RoleARN != arn(tc.role) || c.PrincipalID != res.AssumedRoleID {
				t.Fatalf("caller = %+v", c)
			}
		})
	}
	// Role chaining is limited to one hour; sessions get the role's policies.
	res, err := d.AssumeRole(ctx, rootCaller, iam.AssumeRoleInput{RoleARN: arn("byaccount"), SessionName: "chain"})
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := d.Caller(ctx, res.Credentials.AccessKeyID)
	if err := d.PutRolePolicy(ctx, acct, "byaccount", "p", allowKMS); err != nil {
		t.Fatal(err)
	}
	if docs, _ := d.IdentityPolicies(ctx, sess); len(docs) != 1 || docs[0] != allowKMS {
		t.Fatalf("session policies = %v", docs)
	}
	if err := d.PutRolePolicy(ctx, acct, "byaccount", "q", allowAssume); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AssumeRole(ctx, sess, iam.AssumeRoleInput{RoleARN: arn("byaccount"), SessionName: "chain1"}); err != nil {
		t.Fatalf("role chaining: %v", err)
	}
	_, err = d.AssumeRole(ctx, sess, iam.AssumeRoleInput{RoleARN: arn("byaccount"), SessionName: "chain2", Duration: 2 * time.Hour})
	wantCode(t, err, iam.CodeValidationError)

	// A role deleted and re-created under the same name is a new role: the
	// old session gets none of its policies.
	for _, p := range []string{"p", "q"} {
		wantCode(t, d.DeleteRolePolicy(ctx, acct, "byaccount", p), "")
	}
	wantCode(t, d.DeleteRole(ctx, acct, "byaccount"), "")
	if _, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "byaccount", TrustPolicy: trustFor(acct)}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, d.PutRolePolicy(ctx, acct, "byaccount", "p", allowKMS), "")
	if docs, _ := d.IdentityPolicies(ctx, sess); len(docs) != 0 {
		t.Fatalf("stale session got the new role's policies: %v", docs)
	}
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	k, secret, err := d.CreateAccount(ctx, "444455556666", "dev")
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Caller(ctx, k.ID)
	if err != nil || c.Type != iam.TypeRoot || c.Account != "444455556666" || c.ARN != "arn:aws:iam::444455556666:root" {
		t.Fatalf("caller = %+v, %v", c, err)
	}
	if sec, _ := d.Lookup(ctx, k.ID); string(sec.Key) != secret {
		t.Fatal("secret mismatch")
	}
	_, _, err = d.CreateAccount(ctx, "444455556666", "")
	wantCode(t, err, iam.CodeEntityAlreadyExists)
	_, _, err = d.CreateAccount(ctx, "12", "")
	wantCode(t, err, iam.CodeValidationError)
	as, err := d.ListAccounts(ctx)
	if err != nil || len(as) != 1 || as[0].Name != "dev" {
		t.Fatalf("ListAccounts = %v, %v", as, err)
	}
	ks, _ := d.ListAccessKeys(ctx, "444455556666", "")
	if len(ks) != 1 || ks[0].ID != k.ID {
		t.Fatalf("root keys = %v", ks)
	}
}

const principalsYAML = `
accounts:
  - id: "444455556666"
    name: dev
    root_access_keys:
      - id: AKIADECLAREDROOT0001
        secret_env: ROOT_SECRET
    users:
      - name: ci
        policies:
          kms-use:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: ["kms:Encrypt", "kms:Decrypt"]
                Resource: "*"
        access_keys:
          - id: AKIADECLAREDCI00001
            secret_file: SECRET_FILE
    roles:
      - name: deployer
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"sts:AssumeRole"}]}'
        policies:
          all: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'
`

func TestPrincipalsFile(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	secretFile := filepath.Join(t.TempDir(), "ci.secret")
	os.WriteFile(secretFile, []byte("ci-secret-0123456789\n"), 0o600)
	env := map[string]string{"ROOT_SECRET": "root-secret-0123456789"}
	doc := strings.Replace(principalsYAML, "SECRET_FILE", secretFile, 1)
	p, err := iam.ParsePrincipals([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // idempotent
		if _, err := d.ApplyPrincipals(ctx, p, func(k string) string { return env[k] }); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	sec, err := d.Lookup(ctx, "AKIADECLAREDCI00001")
	if err != nil || string(sec.Key) != "ci-secret-0123456789" {
		t.Fatalf("ci key: %v", err)
	}
	c, _ := d.Caller(ctx, "AKIADECLAREDCI00001")
	docs, _ := d.IdentityPolicies(ctx, c)
	if len(docs) != 1 || !strings.Contains(docs[0], `"kms:Decrypt"`) {
		t.Fatalf("ci policies = %v", docs)
	}
	if _, err := d.GetRole(ctx, "444455556666", "deployer"); err != nil {
		t.Fatal(err)
	}
	// A rotated secret replaces the key.
	env["ROOT_SECRET"] = "rotated-secret-0123456789"
	if _, err := d.ApplyPrincipals(ctx, p, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if sec, _ := d.Lookup(ctx, "AKIADECLAREDROOT0001"); string(sec.Key) != "rotated-secret-0123456789" {
		t.Fatal("secret was not rotated")
	}
	fails := []struct{ name, doc, want string }{
		{"fail/unknown-field", "accounts:\n  - id: \"444455556666\"\n    userz: []\n", "field userz not found"},
		{"fail/bad-account", "accounts:\n  - id: \"4444\"\n", "12 digits"},
		{"fail/inline-secret", "accounts:\n  - id: \"444455556666\"\n    root_access_keys:\n      - id: AKIAXXXXXXXXXXXXXXXX\n        secret: hunter2hunter2hunter2\n", "field secret not found"},
		{"fail/no-secret-source", "accounts:\n  - id: \"444455556666\"\n    root_access_keys:\n      - id: AKIAXXXXXXXXXXXXXXXX\n", "exactly one"},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iam.ParsePrincipals([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if strings.Contains(fmt.Sprint(err), "hunter2") {
				t.Fatal("secret in error")
			}
		})
	}
	// An empty environment variable is an error that names the variable,
	// never a value.
	_, err = d.ApplyPrincipals(ctx, p, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "ROOT_SECRET") {
		t.Fatalf("error = %v", err)
	}
}

func BenchmarkIdentityPolicies(b *testing.B) {
	d, _ := newDir(b)
	ctx := context.Background()
	d.CreateUser(ctx, acct, "bench", "")
	d.PutUserPolicy(ctx, acct, "bench", "p", allowKMS)
	c := &kms.Caller{Account: acct, Type: iam.TypeIAMUser, UserName: "bench"}
	b.ReportAllocs()
	for b.Loop() {
		if docs, err := d.IdentityPolicies(ctx, c); err != nil || len(docs) != 1 {
			b.Fatal(docs, err)
		}
	}
}

func BenchmarkAuthorizeIAM(b *testing.B) {
	d, _ := newDir(b)
	ctx := context.Background()
	d.CreateUser(ctx, acct, "bench", "")
	d.PutUserPolicy(ctx, acct, "bench", "p", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}`)
	c := &kms.Caller{Account: acct, Type: iam.TypeIAMUser, UserName: "bench", ARN: "arn:aws:iam::111122223333:user/bench"}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.AuthorizeIAM(ctx, c, "iam:GetUser", "arn:aws:iam::111122223333:user/x"); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParsePrincipals(f *testing.F) {
	f.Add([]byte(principalsYAML))
	f.Add([]byte("accounts: []"))
	f.Add([]byte("accounts:\n  - id: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := iam.ParsePrincipals(data)
		if err != nil {
			return
		}
		for _, a := range p.Accounts {
			if !arn.ValidAccountID(a.ID) {
				t.Fatalf("accepted account ID %q", a.ID)
			}
		}
	})
}

// TestConcurrentKeyLimit: the per-user key quota holds under concurrent
// creation (the owner record's version serializes them).
func TestConcurrentKeyLimit(t *testing.T) {
	t.Parallel()
	d, _ := newDir(t)
	ctx := ctxT(t)
	if _, err := d.CreateUser(ctx, acct, "racer", ""); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, _, err := d.CreateUserAccessKey(ctx, acct, "racer")
			errs <- err
		}()
	}
	ok := 0
	for range 8 {
		err := <-errs
		if err == nil {
			ok++
			continue
		}
		wantCode(t, err, iam.CodeLimitExceeded)
	}
	ks, _ := d.ListAccessKeys(ctx, acct, "racer")
	if ok != iam.MaxAccessKeysPerUser || len(ks) != iam.MaxAccessKeysPerUser {
		t.Fatalf("%d creations succeeded, %d keys stored; want %d", ok, len(ks), iam.MaxAccessKeysPerUser)
	}
}
