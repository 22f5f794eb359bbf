package authz_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/authz"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
)

const (
	acctA = "111122223333"
	acctB = "444455556666"
	keyA  = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

var (
	rootA  = &kms.Caller{Account: acctA, ARN: "arn:aws:iam::111122223333:root", Type: "Root", PrincipalID: acctA}
	alice  = &kms.Caller{Account: acctA, ARN: "arn:aws:iam::111122223333:user/alice", Type: "IAMUser", UserName: "alice", PrincipalID: "AIDAALICE"}
	bob    = &kms.Caller{Account: acctA, ARN: "arn:aws:iam::111122223333:user/bob", Type: "IAMUser", UserName: "bob", PrincipalID: "AIDABOB"}
	admin  = &kms.Caller{Account: acctA, ARN: "arn:aws:sts::111122223333:assumed-role/Admin/s1", Type: "AssumedRole", RoleARN: "arn:aws:iam::111122223333:role/Admin", SessionName: "s1", PrincipalID: "AROAADMIN:s1"}
	rootB  = &kms.Caller{Account: acctB, ARN: "arn:aws:iam::444455556666:root", Type: "Root", PrincipalID: acctB}
	carol  = &kms.Caller{Account: acctB, ARN: "arn:aws:iam::444455556666:user/carol", Type: "IAMUser", UserName: "carol", PrincipalID: "AIDACAROL"}
	dave   = &kms.Caller{Account: acctB, ARN: "arn:aws:iam::444455556666:user/dave", Type: "IAMUser", UserName: "dave", PrincipalID: "AIDADAVE"}
	tlsBob = &kms.Caller{Account: acctA, ARN: bob.ARN, Type: "IAMUser", UserName: "bob", PrincipalID: "AIDABOB", SecureTransport: true, SourceIP: "10.1.2.3"}
)

// policies is a test-only in-memory identity policy source: principal ARN
// (role ARN for sessions) -> documents.
type policies struct {
	mu    sync.Mutex
	m     map[string][]string
	users map[string]string // IAM user and role ARN -> unique ID
	calls int
	err   error
}

func (p *policies) IdentityPolicies(_ context.Context, c *kms.Caller) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.err != nil {
		return nil, p.err
	}
	if c.RoleARN != "" {
		return p.m[c.RoleARN], nil
	}
	return p.m[c.ARN], nil
}

func (p *policies) PrincipalID(_ context.Context, arn string) (string, bool, error) {
	if !strings.Contains(arn, ":user/") && !strings.Contains(arn, ":role/") {
		return "", false, nil
	}
	return p.users[arn], true, nil
}

func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func allowKP(principal, action string) string {
	return `{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"` + action + `","Resource":"*"}`
}

func allowKPCond(principal, action, cond string) string {
	return `{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"` + action + `","Resource":"*","Condition":` + cond + `}`
}

func denyKP(principal, action string) string {
	return `{"Effect":"Deny","Principal":{"AWS":"` + principal + `"},"Action":"` + action + `","Resource":"*"}`
}

func allowID(action, resource string) string {
	return `{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}`
}

func denyID(action, resource string) string {
	return `{"Effect":"Deny","Action":"` + action + `","Resource":"` + resource + `"}`
}

var (
	defaultKP = kms.DefaultKeyPolicy("aws", acctA)
	rootStmtA = allowKP("arn:aws:iam::111122223333:root", "kms:*")
	// noRootKP names alice directly and does not delegate to IAM.
	noRootKP = doc(allowKP(alice.ARN, "kms:*"))
	// crossKP delegates to account B for the operations of a key user.
	crossKP = doc(rootStmtA, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:CreateGrant","kms:ScheduleKeyDeletion"],"Resource":"*"}`)
	// crossUserKP names carol of account B directly.
	crossUserKP = doc(rootStmtA, allowKP(carol.ARN, "kms:*"))
)

type tc struct {
	name     string
	caller   *kms.Caller
	action   string
	kp       string // "" = default key policy
	keyAcct  string // "" = account A
	ids      map[string][]string
	conds    map[string][]string
	tags     map[string]string
	aliases  []string
	grant    bool
	account  bool // AuthorizeAccount instead of AuthorizeKey
	wantCode string
	wantMsg  string // "" with wantCode = any message
}

func allow(name string, c *kms.Caller, action string) tc {
	return tc{name: "ok/" + name, caller: c, action: action}
}

func noRes(c *kms.Caller, action string) string {
	return policy.DenyNoResourcePolicy(c.ARN, action, keyA).Message
}
func noID(c *kms.Caller, action string) string {
	return policy.DenyNoIdentityPolicy(c.ARN, action, keyA).Message
}
func exRes(c *kms.Caller, action string) string {
	return policy.DenyExplicitResource(c.ARN, action, keyA).Message
}
func exID(c *kms.Caller, action string) string {
	return policy.DenyExplicitIdentity(c.ARN, action, keyA).Message
}

const denied = awserr.AccessDenied

func matrix() []tc {
	aliceAll := map[string][]string{alice.ARN: {doc(allowID("kms:*", "*"))}}
	aliceEnc := map[string][]string{alice.ARN: {doc(allowID("kms:Encrypt", keyA))}}
	adminAll := map[string][]string{admin.RoleARN: {doc(allowID("kms:*", "arn:aws:kms:*:111122223333:key/*"))}}
	carolAll := map[string][]string{carol.ARN: {doc(allowID("kms:*", "*"))}}
	carolEnc := map[string][]string{carol.ARN: {doc(allowID("kms:Encrypt", keyA))}}
	aliceDenyDecrypt := map[string][]string{alice.ARN: {doc(allowID("kms:*", "*"), denyID("kms:Decrypt", "*"))}}
	tagKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Encrypt", `{"StringEquals":{"aws:ResourceTag/Project":"blue"}}`))
	ecKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Decrypt", `{"StringEquals":{"kms:EncryptionContext:dept":"finance"}}`))
	ecKeysKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Encrypt", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["dept","app"]}}`))
	ipKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Decrypt", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`))
	tlsDenyKP := doc(rootStmtA, allowKP(bob.ARN, "kms:*"), `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)
	timeKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Sign", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`))
	pastKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Sign", `{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`))
	aliasKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Encrypt", `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/finance-*"}}`))
	reqAliasKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Encrypt", `{"StringEquals":{"kms:RequestAlias":"alias/app"}}`))
	specKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:*", `{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT","kms:KeyOrigin":"AWS_KMS"}}`))
	callerKP := doc(allowKPCond("*", "kms:Encrypt", `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`), rootStmtA)
	algKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Encrypt", `{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}`))
	notPrincipalKP := doc(rootStmtA, `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:user/alice"]},"Action":"kms:Decrypt","Resource":"*"}`)
	roleKP := doc(rootStmtA, allowKP("arn:aws:iam::111122223333:role/Admin", "kms:*"))
	principalArnKP := doc(rootStmtA, allowKPCond("*", "kms:Decrypt", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Ad*"}}`))
	usernameKP := doc(rootStmtA, allowKPCond("*", "kms:Encrypt", `{"StringEquals":{"aws:username":"bob"}}`))
	bypassKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:PutKeyPolicy", `{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"false"}}`))
	wildcardAnyKP := doc(`{"Effect":"Allow","Principal":"*","Action":"kms:DescribeKey","Resource":"*"}`, rootStmtA)
	mrKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Encrypt", `{"Bool":{"kms:MultiRegion":"true"}}`))
	regionKP := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Encrypt", `{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}`))
	denyRootKP := doc(rootStmtA, denyKP("arn:aws:iam::111122223333:root", "kms:ScheduleKeyDeletion"))

	cases := []tc{
		// The account root and the default key policy.
		allow("root encrypts under the default policy", rootA, "kms:Encrypt"),
		allow("root decrypts under the default policy", rootA, "kms:Decrypt"),
		allow("root puts the key policy", rootA, "kms:PutKeyPolicy"),
		allow("root schedules deletion", rootA, "kms:ScheduleKeyDeletion"),
		allow("root creates a grant", rootA, "kms:CreateGrant"),
		allow("root revokes a grant", rootA, "kms:RevokeGrant"),
		allow("root lists grants", rootA, "kms:ListGrants"),
		allow("root describes", rootA, "kms:DescribeKey"),
		{name: "fail/root when the policy names only alice", caller: rootA, action: "kms:Encrypt", kp: noRootKP, wantCode: denied, wantMsg: noRes(rootA, "kms:Encrypt")},
		{name: "fail/root with an explicit deny", caller: rootA, action: "kms:ScheduleKeyDeletion", kp: denyRootKP, wantCode: denied, wantMsg: exRes(rootA, "kms:ScheduleKeyDeletion")},
		{name: "ok/root not denied another action", caller: rootA, action: "kms:Encrypt", kp: denyRootKP},

		// Delegation to IAM.
		{name: "fail/user without identity policy", caller: alice, action: "kms:Encrypt", wantCode: denied, wantMsg: noID(alice, "kms:Encrypt")},
		{name: "ok/user with identity policy kms:*", caller: alice, action: "kms:Encrypt", ids: aliceAll},
		{name: "ok/user with identity policy on the key", caller: alice, action: "kms:Encrypt", ids: aliceEnc},
		{name: "fail/user identity policy for another action", caller: alice, action: "kms:Decrypt", ids: aliceEnc, wantCode: denied, wantMsg: noID(alice, "kms:Decrypt")},
		{name: "fail/user identity policy on another key", caller: alice, action: "kms:Encrypt", ids: map[string][]string{alice.ARN: {doc(allowID("kms:*", "arn:aws:kms:us-east-1:111122223333:key/other"))}}, wantCode: denied, wantMsg: noID(alice, "kms:Encrypt")},
		{name: "fail/identity explicit deny", caller: alice, action: "kms:Decrypt", ids: aliceDenyDecrypt, wantCode: denied, wantMsg: exID(alice, "kms:Decrypt")},
		{name: "ok/identity deny of another action", caller: alice, action: "kms:Encrypt", ids: aliceDenyDecrypt},
		{name: "ok/role session through role policy", caller: admin, action: "kms:DisableKey", ids: adminAll},
		{name: "fail/role session without role policy", caller: admin, action: "kms:DisableKey", wantCode: denied, wantMsg: noID(admin, "kms:DisableKey")},
		{name: "fail/IAM policy irrelevant without root statement", caller: bob, action: "kms:Encrypt", kp: noRootKP, ids: map[string][]string{bob.ARN: {doc(allowID("kms:*", "*"))}}, wantCode: denied, wantMsg: noRes(bob, "kms:Encrypt")},
		{name: "ok/directly named user needs no IAM policy", caller: alice, action: "kms:Encrypt", kp: noRootKP},
		{name: "ok/directly named user any action", caller: alice, action: "kms:PutKeyPolicy", kp: noRootKP},
		{name: "fail/directly named user with identity deny", caller: alice, action: "kms:Decrypt", kp: noRootKP, ids: aliceDenyDecrypt, wantCode: denied, wantMsg: exID(alice, "kms:Decrypt")},
		{name: "ok/role named in key policy", caller: admin, action: "kms:Decrypt", kp: roleKP},
		{name: "fail/user not the named role", caller: bob, action: "kms:Decrypt", kp: roleKP, wantCode: denied, wantMsg: noID(bob, "kms:Decrypt")},
		{name: "ok/aws:PrincipalArn of a role session", caller: admin, action: "kms:Decrypt", kp: principalArnKP},
		{name: "fail/aws:PrincipalArn other principal", caller: bob, action: "kms:Decrypt", kp: principalArnKP, wantCode: denied, wantMsg: noID(bob, "kms:Decrypt")},
		{name: "ok/aws:username", caller: bob, action: "kms:Encrypt", kp: usernameKP},
		{name: "fail/aws:username other user", caller: alice, action: "kms:Encrypt", kp: usernameKP, wantCode: denied, wantMsg: noID(alice, "kms:Encrypt")},
		{name: "ok/Principal * DescribeKey", caller: bob, action: "kms:DescribeKey", kp: wildcardAnyKP},
		{name: "fail/Principal * only DescribeKey", caller: bob, action: "kms:Encrypt", kp: wildcardAnyKP, wantCode: denied, wantMsg: noID(bob, "kms:Encrypt")},
		{name: "ok/NotPrincipal deny spares alice", caller: alice, action: "kms:Decrypt", kp: notPrincipalKP, ids: aliceAll},
		{name: "fail/NotPrincipal deny hits bob", caller: bob, action: "kms:Decrypt", kp: notPrincipalKP, ids: map[string][]string{bob.ARN: {doc(allowID("kms:*", "*"))}}, wantCode: denied, wantMsg: exRes(bob, "kms:Decrypt")},
		{name: "ok/NotPrincipal deny spares root", caller: rootA, action: "kms:Decrypt", kp: notPrincipalKP},

		// Grants.
		{name: "ok/grant allows a user without policy", caller: bob, action: "kms:Decrypt", kp: noRootKP, grant: true},
		{name: "ok/grant allows with default policy", caller: bob, action: "kms:Encrypt", grant: true},
		{name: "fail/grant does not beat a key policy deny", caller: bob, action: "kms:Decrypt", kp: notPrincipalKP, grant: true, wantCode: denied, wantMsg: exRes(bob, "kms:Decrypt")},
		{name: "fail/grant does not beat an identity deny", caller: alice, action: "kms:Decrypt", ids: aliceDenyDecrypt, grant: true, wantCode: denied, wantMsg: exID(alice, "kms:Decrypt")},
		{name: "fail/no grant no policy", caller: bob, action: "kms:Decrypt", kp: noRootKP, wantCode: denied, wantMsg: noRes(bob, "kms:Decrypt")},
		{name: "ok/grant to another account's user", caller: carol, action: "kms:Decrypt", kp: noRootKP, grant: true},
		{name: "fail/grant cannot give a non-cross-account action", caller: carol, action: "kms:ScheduleKeyDeletion", kp: noRootKP, grant: true, wantCode: denied, wantMsg: noRes(carol, "kms:ScheduleKeyDeletion")},

		// Cross-account.
		{name: "ok/other account root via delegation", caller: rootB, action: "kms:Encrypt", kp: crossKP},
		{name: "ok/other account user with both policies", caller: carol, action: "kms:Encrypt", kp: crossKP, ids: carolAll},
		{name: "ok/other account user with an action-scoped IAM policy", caller: carol, action: "kms:Encrypt", kp: crossKP, ids: carolEnc},
		{name: "fail/other account user without IAM policy", caller: carol, action: "kms:Encrypt", kp: crossKP, wantCode: denied, wantMsg: noID(carol, "kms:Encrypt")},
		{name: "fail/other account user IAM allows other action", caller: carol, action: "kms:Decrypt", kp: crossKP, ids: carolEnc, wantCode: denied, wantMsg: noID(carol, "kms:Decrypt")},
		{name: "fail/other account under the default policy", caller: carol, action: "kms:Encrypt", ids: carolAll, wantCode: denied, wantMsg: noRes(carol, "kms:Encrypt")},
		{name: "fail/other account root under the default policy", caller: rootB, action: "kms:Encrypt", wantCode: denied, wantMsg: noRes(rootB, "kms:Encrypt")},
		{name: "fail/cross-account ScheduleKeyDeletion never", caller: rootB, action: "kms:ScheduleKeyDeletion", kp: crossKP, wantCode: denied, wantMsg: noRes(rootB, "kms:ScheduleKeyDeletion")},
		{name: "fail/cross-account PutKeyPolicy never", caller: carol, action: "kms:PutKeyPolicy", kp: crossUserKP, ids: carolAll, wantCode: denied, wantMsg: noRes(carol, "kms:PutKeyPolicy")},
		{name: "ok/cross-account CreateGrant", caller: carol, action: "kms:CreateGrant", kp: crossKP, ids: carolAll},
		{name: "ok/cross-account DescribeKey", caller: carol, action: "kms:DescribeKey", kp: crossKP, ids: carolAll},
		{name: "fail/cross-account action the key policy omits", caller: carol, action: "kms:GenerateDataKey", kp: crossKP, ids: carolAll, wantCode: denied, wantMsg: noRes(carol, "kms:GenerateDataKey")},
		{name: "ok/cross-account user named directly still needs IAM", caller: carol, action: "kms:Decrypt", kp: crossUserKP, ids: carolAll},
		{name: "fail/cross-account user named directly without IAM", caller: carol, action: "kms:Decrypt", kp: crossUserKP, wantCode: denied, wantMsg: noID(carol, "kms:Decrypt")},
		{name: "fail/another user of account B not named", caller: dave, action: "kms:Decrypt", kp: crossUserKP, ids: map[string][]string{dave.ARN: {doc(allowID("kms:*", "*"))}}, wantCode: denied, wantMsg: noRes(dave, "kms:Decrypt")},
		{name: "ok/kms:CallerAccount for own account", caller: bob, action: "kms:Encrypt", kp: callerKP},
		{name: "fail/kms:CallerAccount other account", caller: carol, action: "kms:Encrypt", kp: callerKP, ids: carolAll, wantCode: denied, wantMsg: noRes(carol, "kms:Encrypt")},

		// Conditions.
		{name: "ok/resource tag matches", caller: bob, action: "kms:Encrypt", kp: tagKP, tags: map[string]string{"Project": "blue"}},
		{name: "ok/resource tag key case-insensitive", caller: bob, action: "kms:Encrypt", kp: tagKP, tags: map[string]string{"project": "blue"}},
		{name: "fail/resource tag other value", caller: bob, action: "kms:Encrypt", kp: tagKP, tags: map[string]string{"Project": "red"}, wantCode: denied, wantMsg: noID(bob, "kms:Encrypt")},
		{name: "fail/resource tag absent", caller: bob, action: "kms:Encrypt", kp: tagKP, wantCode: denied, wantMsg: noID(bob, "kms:Encrypt")},
		{name: "ok/encryption context value", caller: bob, action: "kms:Decrypt", kp: ecKP, conds: map[string][]string{"kms:encryptioncontext:dept": {"finance"}, "kms:encryptioncontextkeys": {"dept"}}},
		{name: "fail/encryption context other value", caller: bob, action: "kms:Decrypt", kp: ecKP, conds: map[string][]string{"kms:encryptioncontext:dept": {"hr"}, "kms:encryptioncontextkeys": {"dept"}}, wantCode: denied, wantMsg: noID(bob, "kms:Decrypt")},
		{name: "fail/encryption context missing", caller: bob, action: "kms:Decrypt", kp: ecKP, wantCode: denied, wantMsg: noID(bob, "kms:Decrypt")},
		{name: "ok/encryption context keys subset", caller: bob, action: "kms:Encrypt", kp: ecKeysKP, conds: map[string][]string{"kms:encryptioncontextkeys": {"dept"}}},
		{name: "fail/encryption context keys outside", caller: bob, action: "kms:Encrypt", kp: ecKeysKP, conds: map[string][]string{"kms:encryptioncontextkeys": {"dept", "user"}}, wantCode: denied, wantMsg: noID(bob, "kms:Encrypt")},
		{name: "ok/source IP in range", caller: tlsBob, action: "kms:Decrypt", kp: ipKP},
		{name: "fail/source IP outside", caller: &kms.Caller{Account: acctA, ARN: bob.ARN, Type: "IAMUser", SourceIP: "192.0.2.1"}, action: "kms:Decrypt", kp: ipKP, wantCode: denied, wantMsg: noID(bob, "kms:Decrypt")},
		{name: "fail/source IP unknown", caller: bob, action: "kms:Decrypt", kp: ipKP, wantCode: denied, wantMsg: noID(bob, "kms:Decrypt")},
		{name: "ok/secure transport", caller: tlsBob, action: "kms:Encrypt", kp: tlsDenyKP},
		{name: "fail/insecure transport denied", caller: bob, action: "kms:Encrypt", kp: tlsDenyKP, wantCode: denied, wantMsg: exRes(bob, "kms:Encrypt")},
		{name: "ok/current time before", caller: bob, action: "kms:Sign", kp: timeKP},
		{name: "fail/current time after", caller: bob, action: "kms:Sign", kp: pastKP, wantCode: denied, wantMsg: noID(bob, "kms:Sign")},
		{name: "ok/resource alias matches", caller: bob, action: "kms:Encrypt", kp: aliasKP, aliases: []string{"alias/other", "alias/finance-prod"}},
		{name: "fail/resource alias none matches", caller: bob, action: "kms:Encrypt", kp: aliasKP, aliases: []string{"alias/hr"}, wantCode: denied, wantMsg: noID(bob, "kms:Encrypt")},
		{name: "fail/resource aliases over 50 are ignored", caller: bob, action: "kms:Encrypt", kp: aliasKP, aliases: manyAliases(51), wantCode: denied, wantMsg: noID(bob, "kms:Encrypt")},
		{name: "ok/request alias", caller: bob, action: "kms:Encrypt", kp: reqAliasKP, conds: map[string][]string{"kms:requestalias": {"alias/app"}}},
		{name: "fail/request by key ID", caller: bob, action: "kms:Encrypt", kp: reqAliasKP, wantCode: denied, wantMsg: noID(bob, "kms:Encrypt")},
		{name: "ok/key spec and origin of the key", caller: bob, action: "kms:Decrypt", kp: specKP},
		{name: "ok/encryption algorithm", caller: bob, action: "kms:Encrypt", kp: algKP, conds: map[string][]string{"kms:encryptionalgorithm": {"SYMMETRIC_DEFAULT"}}},
		{name: "fail/multi-Region condition on a single-Region key", caller: bob, action: "kms:Encrypt", kp: mrKP, wantCode: denied, wantMsg: noID(bob, "kms:Encrypt")},
		{name: "ok/requested region", caller: bob, action: "kms:Encrypt", kp: regionKP},
		{name: "ok/bypass condition false", caller: bob, action: "kms:PutKeyPolicy", kp: bypassKP, conds: map[string][]string{"kms:bypasspolicylockoutsafetycheck": {"false"}}},
		{name: "fail/bypass condition true", caller: bob, action: "kms:PutKeyPolicy", kp: bypassKP, conds: map[string][]string{"kms:bypasspolicylockoutsafetycheck": {"true"}}, wantCode: denied, wantMsg: noID(bob, "kms:PutKeyPolicy")},

		// Actions without a key resource.
		{name: "ok/root CreateKey", caller: rootA, action: "kms:CreateKey", account: true},
		{name: "ok/root ListKeys", caller: rootA, action: "kms:ListKeys", account: true},
		{name: "fail/user CreateKey without policy", caller: alice, action: "kms:CreateKey", account: true, wantCode: denied, wantMsg: policy.DenyNoIdentityPolicy(alice.ARN, "kms:CreateKey", "*").Message},
		{name: "ok/user CreateKey with policy", caller: alice, action: "kms:CreateKey", account: true, ids: aliceAll},
		{name: "fail/user ListKeys denied explicitly", caller: alice, action: "kms:ListKeys", account: true, ids: map[string][]string{alice.ARN: {doc(allowID("kms:*", "*"), denyID("kms:List*", "*"))}}, wantCode: denied, wantMsg: policy.DenyExplicitIdentity(alice.ARN, "kms:ListKeys", "*").Message},
		{name: "ok/role GenerateRandom", caller: admin, action: "kms:GenerateRandom", account: true, ids: map[string][]string{admin.RoleARN: {doc(allowID("kms:GenerateRandom", "*"))}}},
		{name: "ok/CreateKey with a request tag condition", caller: alice, action: "kms:CreateKey", account: true, conds: map[string][]string{"aws:requesttag/env": {"prod"}},
			ids: map[string][]string{alice.ARN: {`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/env":"prod"}}}}`}}},
		{name: "fail/CreateKey with the wrong request tag", caller: alice, action: "kms:CreateKey", account: true, conds: map[string][]string{"aws:requesttag/env": {"dev"}},
			ids:      map[string][]string{alice.ARN: {`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/env":"prod"}}}}`}},
			wantCode: denied, wantMsg: policy.DenyNoIdentityPolicy(alice.ARN, "kms:CreateKey", "*").Message},
		{name: "ok/other account root ListKeys of its own", caller: rootB, action: "kms:ListKeys", account: true},
	}
	return cases
}

func manyAliases(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "alias/finance-" + strings.Repeat("x", i+1)
	}
	return out
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	cases := matrix()
	if len(cases) < 80 {
		t.Fatalf("matrix has %d cases, want at least 80", len(cases))
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := &policies{m: c.ids}
			a := authz.New(authz.Config{Identities: src, Now: func() time.Time { return now }})
			var err error
			if c.account {
				err = a.AuthorizeAccount(context.Background(), &kms.AccountRequest{Caller: c.caller, Action: c.action, Conditions: c.conds})
			} else {
				kp := c.kp
				if kp == "" {
					kp = defaultKP
				}
				acct := c.keyAcct
				if acct == "" {
					acct = acctA
				}
				aliasCalls := 0
				req := &kms.KeyRequest{Caller: c.caller, Action: c.action, KeyARN: keyA, KeyAccount: acct,
					Policy: a.Prepare(kp, nil), KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", KeyOrigin: "AWS_KMS",
					Tags: c.tags, Conditions: c.conds, GrantAllows: c.grant,
					Aliases: func() ([]string, error) { aliasCalls++; return c.aliases, nil }}
				err = a.AuthorizeKey(context.Background(), req)
				if aliasCalls > 1 {
					t.Errorf("aliases loaded %d times", aliasCalls)
				}
				if aliasCalls > 0 && !strings.Contains(kp, "ResourceAliases") {
					t.Errorf("aliases loaded for a policy that does not use them")
				}
			}
			if c.wantCode == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			e := awserr.As(err)
			if e == nil {
				t.Fatalf("got %v, want %s", err, c.wantCode)
			}
			want := c.wantMsg
			acct := c.keyAcct
			if acct == "" {
				acct = acctA
			}
			if want != "" && !c.account && c.caller.Account != acct {
				// Every denial across accounts gives one message, whatever
				// its reason (the case's wantMsg).
				want = policy.DenyCrossAccount(c.caller.ARN, c.action).Message
			}
			if e.Code != c.wantCode || (want != "" && e.Message != want) {
				t.Fatalf("got %s: %q\nwant %s: %q", e.Code, e.Message, c.wantCode, want)
			}
		})
	}
}

func TestRootSkipsIdentityLookup(t *testing.T) {
	t.Parallel()
	src := &policies{err: errors.New("directory down")}
	a := authz.New(authz.Config{Identities: src})
	req := &kms.KeyRequest{Caller: rootA, Action: "kms:Encrypt", KeyARN: keyA, KeyAccount: acctA, Policy: a.Prepare(defaultKP, nil)}
	if err := a.AuthorizeKey(context.Background(), req); err != nil {
		t.Fatalf("root denied: %v", err)
	}
	if src.calls != 0 {
		t.Fatalf("identity source called %d times for the root", src.calls)
	}
	req.Caller = alice
	err := a.AuthorizeKey(context.Background(), req)
	if awserr.CodeOf(err) != awserr.KMSInternal {
		t.Fatalf("directory failure: got %v, want KMSInternalException", err)
	}
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	a := authz.New(authz.Config{})
	cases := []struct {
		name   string
		policy *policy.Policy
	}{
		{"fail/no prepared policy", nil},
		{"fail/unparseable stored policy", a.Prepare("{not json", nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := a.AuthorizeKey(context.Background(), &kms.KeyRequest{Caller: rootA, Action: "kms:Encrypt", KeyARN: keyA, KeyAccount: acctA, Policy: c.policy})
			if awserr.CodeOf(err) != awserr.AccessDenied {
				t.Fatalf("got %v, want AccessDeniedException", err)
			}
		})
	}
}

func TestCheckKeyPolicy(t *testing.T) {
	t.Parallel()
	src := &policies{users: map[string]string{alice.ARN: "AIDAALICE", "arn:aws:iam::111122223333:role/Admin": "AROAADMIN"}}
	a := authz.New(authz.Config{Identities: src})
	lockout := doc(allowKP(alice.ARN, "kms:*"))
	cases := []struct {
		name    string
		doc     string
		caller  *kms.Caller
		bypass  bool
		wantMsg string
	}{
		{name: "ok/default policy", doc: defaultKP, caller: rootA},
		{name: "ok/root statement lets a user keep access via IAM", doc: defaultKP, caller: alice},
		{name: "ok/named user keeps access", doc: lockout, caller: alice},
		{name: "ok/named role keeps its sessions' access", doc: doc(rootStmtA, allowKP("arn:aws:iam::111122223333:role/Admin", "kms:*")), caller: admin},
		{name: "fail/lockout of the root", doc: lockout, caller: rootA, wantMsg: policy.MsgLockout},
		{name: "fail/lockout of a user", doc: doc(allowKP(alice.ARN, "kms:Encrypt"), rootStmtA[:0]+allowKP("arn:aws:iam::111122223333:role/Admin", "kms:*")), caller: alice, wantMsg: policy.MsgLockout},
		{name: "fail/lockout by explicit deny", doc: doc(rootStmtA, denyKP("arn:aws:iam::111122223333:root", "kms:PutKeyPolicy")), caller: rootA, wantMsg: policy.MsgLockout},
		{name: "ok/bypass", doc: lockout, caller: rootA, bypass: true},
		{name: "fail/not JSON", doc: "{", caller: rootA, wantMsg: policy.MsgInvalidJSON},
		{name: "fail/no principal", doc: doc(`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`), caller: rootA, wantMsg: policy.MsgNoPrincipal},
		{name: "fail/invalid principal", doc: doc(allowKP("arn:aws:iam::111122223333:group/x", "kms:*")), caller: rootA, wantMsg: policy.MsgInvalidPrincipals},
		{name: "fail/unknown user", doc: doc(rootStmtA, allowKP("arn:aws:iam::111122223333:user/nobody", "kms:*")), caller: rootA, wantMsg: policy.MsgInvalidPrincipals},
		{name: "ok/other account root need not be known", doc: doc(rootStmtA, allowKP("arn:aws:iam::444455556666:root", "kms:Decrypt")), caller: rootA},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.CheckKeyPolicy(context.Background(), c.doc, c.caller, keyA, c.bypass)
			if c.wantMsg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e := awserr.As(err)
			if e == nil || e.Code != awserr.MalformedPolicyDocument || e.Message != c.wantMsg {
				t.Fatalf("got %v, want MalformedPolicyDocumentException %q", err, c.wantMsg)
			}
		})
	}
}

// TestBoundKeyPolicy: the principals a key policy names are bound to the
// unique IDs they had when it was stored; a user or role deleted and
// re-created under the same name (a new ID) is not allowed.
func TestBoundKeyPolicy(t *testing.T) {
	t.Parallel()
	const adminRole = "arn:aws:iam::111122223333:role/Admin"
	src := &policies{users: map[string]string{alice.ARN: "AIDAALICE", adminRole: "AROAADMIN"}}
	a := authz.New(authz.Config{Identities: src})
	kp := doc(rootStmtA, allowKP(alice.ARN, "kms:Encrypt"), allowKP(adminRole, "kms:Encrypt"))
	ids, err := a.CheckKeyPolicy(context.Background(), kp, rootA, keyA, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[alice.ARN] != "AIDAALICE" || ids[adminRole] != "AROAADMIN" {
		t.Fatalf("bindings = %v", ids)
	}
	newAlice := *alice
	newAlice.PrincipalID = "AIDANEWALICE"
	newAdmin := *admin
	newAdmin.PrincipalID = "AROANEWADMIN:s1"
	bound := a.Prepare(kp, ids)
	for _, c := range []struct {
		name   string
		caller *kms.Caller
		policy *policy.Policy
		allow  bool
	}{
		{"ok/bound user", alice, bound, true},
		{"ok/bound role session", admin, bound, true},
		{"fail/re-created user", &newAlice, bound, false},
		{"fail/re-created role's session", &newAdmin, bound, false},
		{"ok/unbound policy of a key stored before binding", &newAlice, a.Prepare(kp, nil), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := a.AuthorizeKey(context.Background(), &kms.KeyRequest{Caller: c.caller, Action: "kms:Encrypt", KeyARN: keyA, KeyAccount: acctA, Policy: c.policy})
			if (err == nil) != c.allow {
				t.Fatalf("AuthorizeKey = %v, want allow %v", err, c.allow)
			}
		})
	}
}

// BenchmarkAuthorizeEncryptBoundUser is a user named directly in a key
// policy bound to unique IDs: the binding costs a string comparison.
func BenchmarkAuthorizeEncryptBoundUser(b *testing.B) {
	src := &policies{users: map[string]string{alice.ARN: "AIDAALICE"}}
	a := authz.New(authz.Config{Identities: src})
	kp := doc(rootStmtA, allowKP(alice.ARN, "kms:Encrypt"))
	ids, err := a.CheckKeyPolicy(context.Background(), kp, rootA, keyA, false)
	if err != nil {
		b.Fatal(err)
	}
	for _, bind := range []bool{false, true} {
		name := "unbound"
		p := a.Prepare(kp, nil)
		if bind {
			name, p = "bound", a.Prepare(kp, ids)
		}
		b.Run(name, func(b *testing.B) {
			req := &kms.KeyRequest{Caller: alice, Action: "kms:Encrypt", KeyARN: keyA, KeyAccount: acctA, Policy: p}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := a.AuthorizeKey(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthorizeEncryptDefaultPolicy is the hot path: the account root
// encrypting under the default key policy.
func BenchmarkAuthorizeEncryptDefaultPolicy(b *testing.B) {
	a := authz.New(authz.Config{Identities: &policies{}})
	req := &kms.KeyRequest{Caller: rootA, Action: "kms:Encrypt", KeyARN: keyA, KeyAccount: acctA,
		Policy: a.Prepare(defaultKP, nil), KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT",
		Conditions: map[string][]string{"kms:encryptionalgorithm": {"SYMMETRIC_DEFAULT"}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := a.AuthorizeKey(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizeEncryptIAMUser is a user allowed through the default
// policy's delegation and an identity policy.
func BenchmarkAuthorizeEncryptIAMUser(b *testing.B) {
	a := authz.New(authz.Config{Identities: &policies{m: map[string][]string{alice.ARN: {doc(allowID("kms:*", "arn:aws:kms:*:111122223333:key/*"))}}}})
	req := &kms.KeyRequest{Caller: alice, Action: "kms:Encrypt", KeyARN: keyA, KeyAccount: acctA, Policy: a.Prepare(defaultKP, nil)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := a.AuthorizeKey(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCheckKeyPolicy feeds arbitrary documents to CheckKeyPolicy: it must
// never panic and must return nil or an *awserr.Error.
func FuzzCheckKeyPolicy(f *testing.F) {
	f.Add(defaultKP)
	f.Add(doc(allowKP(alice.ARN, "kms:*")))
	f.Add(`{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/x",1]},"Action":"*","Resource":"*"}}`)
	src := &policies{users: map[string]string{}}
	a := authz.New(authz.Config{Identities: src})
	f.Fuzz(func(t *testing.T, d string) {
		_, err := a.CheckKeyPolicy(context.Background(), d, rootA, keyA, true)
		if err != nil && awserr.As(err) == nil {
			t.Fatalf("non-AWS error %v", err)
		}
	})
}

// TestAliasesErrorRefuses checks that a key's aliases that cannot be read
// (the store is down) refuse the request with that error: a Deny
// conditioned on kms:ResourceAliases must not fall away because the
// aliases looked absent, nor an Allow conditioned on them be decided.
func TestAliasesErrorRefuses(t *testing.T) {
	t.Parallel()
	down := awserr.New(awserr.DependencyTimeout, "The system timed out while trying to fulfill the request.")
	denySecret := doc(rootStmtA, allowKP(bob.ARN, "kms:*"),
		`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/secret-*"}}}`)
	allowApp := doc(rootStmtA, allowKPCond(bob.ARN, "kms:Encrypt", `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}`))
	for _, tc := range []struct {
		name, kp string
		aliases  []string
		err      error
		wantCode string
	}{
		{name: "ok/deny-does-not-match", kp: denySecret, aliases: []string{"alias/app-1"}},
		{name: "fail/deny-matches", kp: denySecret, aliases: []string{"alias/secret-1"}, wantCode: awserr.AccessDenied},
		{name: "fail/deny-aliases-unreadable", kp: denySecret, err: down, wantCode: awserr.DependencyTimeout},
		{name: "ok/allow-matches", kp: allowApp, aliases: []string{"alias/app-1"}},
		{name: "fail/allow-aliases-unreadable", kp: allowApp, err: down, wantCode: awserr.DependencyTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := authz.New(authz.Config{Identities: &policies{}})
			req := &kms.KeyRequest{Caller: bob, Action: "kms:Encrypt", KeyARN: keyA, KeyAccount: acctA, Policy: a.Prepare(tc.kp, nil),
				KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", KeyOrigin: "AWS_KMS",
				Aliases: func() ([]string, error) { return tc.aliases, tc.err }}
			err := a.AuthorizeKey(context.Background(), req)
			if got := awserr.CodeOf(err); got != tc.wantCode {
				t.Fatalf("AuthorizeKey = %v; want code %q", err, tc.wantCode)
			}
		})
	}
}
