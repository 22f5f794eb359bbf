package policy

import (
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

const (
	acctA  = "111122223333"
	acctB  = "444455556666"
	keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	key2   = "arn:aws:kms:us-east-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab"
)

var (
	rootA   = Principal{ARN: "arn:aws:iam::111122223333:root", Account: acctA, Type: TypeRoot, UserID: acctA}
	alice   = Principal{ARN: "arn:aws:iam::111122223333:user/alice", Account: acctA, Type: TypeIAMUser, UserID: "AIDAALICE"}
	bob     = Principal{ARN: "arn:aws:iam::111122223333:user/bob", Account: acctA, Type: TypeIAMUser, UserID: "AIDABOB"}
	admin   = Principal{ARN: "arn:aws:sts::111122223333:assumed-role/Admin/s1", Account: acctA, Type: TypeAssumedRole, RoleARN: "arn:aws:iam::111122223333:role/Admin", UserID: "AROAADMIN:s1"}
	dev     = Principal{ARN: "arn:aws:sts::111122223333:assumed-role/Dev/s2", Account: acctA, Type: TypeAssumedRole, RoleARN: "arn:aws:iam::111122223333:role/Dev", UserID: "AROADEV:s2"}
	rootB   = Principal{ARN: "arn:aws:iam::444455556666:root", Account: acctB, Type: TypeRoot}
	carol   = Principal{ARN: "arn:aws:iam::444455556666:user/carol", Account: acctB, Type: TypeIAMUser}
	logsSvc = Principal{ARN: "logs.amazonaws.com", Type: TypeAWSService}
)

// doc builds a policy document from statement JSON objects.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

const (
	stRootA     = `{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`
	stAliceUse  = `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`
	stAllowAll  = `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}`
	idAllowAll  = `{"Effect":"Allow","Action":"kms:*","Resource":"*"}`
	idAllowKey  = `{"Effect":"Allow","Action":"kms:*","Resource":"` + keyARN + `"}`
	idDenyEnc   = `{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}`
	stCrossB    = `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:DescribeKey","kms:CreateGrant","kms:ScheduleKeyDeletion"],"Resource":"*"}`
	stCrossBAll = `{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:*","Resource":"*"}`
)

var defaultKP = doc(stRootA)

// aliceCond returns a key policy letting alice (and the account root) use
// the key under the given condition block.
func aliceCond(action, cond string) string {
	return doc(`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:sts::111122223333:assumed-role/Admin/s1","arn:aws:iam::111122223333:user/bob"]},"Action":"` + action + `","Resource":"*","Condition":` + cond + `}`)
}

func ctx(kv ...any) Values {
	v := Values{}
	for i := 0; i < len(kv); i += 2 {
		switch x := kv[i+1].(type) {
		case string:
			v.Set(kv[i].(string), x)
		case []string:
			v.Set(kv[i].(string), x...)
		}
	}
	return v
}

type want int

const (
	allow want = iota
	noResource
	noIdentity
	denyResource
	denyIdentity
)

type matrixCase struct {
	name     string
	kp       string // "" for IAM-only actions
	identity []string
	who      Principal
	action   string
	resource string // defaults to keyARN, or "*" for IAM-only
	ctx      Values
	grant    *Grant
	ec       map[string]string
	want     want
}

func matrixCases() []matrixCase {
	ecGrant := &Grant{GranteePrincipal: bob.ARN, Operations: []string{"Encrypt", "Decrypt", "DescribeKey", "Sign"},
		EncryptionContextEquals: map[string]string{"app": "billing"}}
	subGrant := &Grant{GranteePrincipal: bob.ARN, Operations: []string{"Decrypt"},
		EncryptionContextSubset: map[string]string{"app": "billing"}}
	plainGrant := &Grant{GranteePrincipal: bob.ARN, Operations: []string{"Encrypt", "Decrypt", "GenerateDataKey"}}
	roleGrant := &Grant{GranteePrincipal: dev.RoleARN, Operations: []string{"Decrypt"}}
	carolGrant := &Grant{GranteePrincipal: carol.ARN, Operations: []string{"Decrypt", "RetireGrant"}}
	direct := doc(stAliceUse)
	console := doc(stRootA,
		`{"Sid":"Allow access for Key Administrators","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"}`,
		`{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}`,
		`{"Sid":"Allow attachment of persistent resources","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}`)
	denyAliceDecrypt := doc(stRootA, `{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}`)
	crossKP := doc(stRootA, stCrossB)
	starCaller := doc(stRootA, `{"Effect":"Allow","Principal":"*","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"444455556666"}}}`)
	starCallerOther := doc(stRootA, `{"Effect":"Allow","Principal":"*","Action":["kms:Encrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"999999999999"}}}`)

	return []matrixCase{
		// Default key policy: delegation to the account's IAM policies.
		{name: "ok/default/root-encrypt", kp: defaultKP, who: rootA, action: "kms:Encrypt", want: allow},
		{name: "ok/default/root-putkeypolicy", kp: defaultKP, who: rootA, action: "kms:PutKeyPolicy", want: allow},
		{name: "fail/default/user-without-identity-policy", kp: defaultKP, who: alice, action: "kms:Encrypt", want: noIdentity},
		{name: "ok/default/user-identity-kms-star", kp: defaultKP, identity: []string{doc(idAllowAll)}, who: alice, action: "kms:Encrypt", want: allow},
		{name: "ok/default/user-identity-key-arn", kp: defaultKP, identity: []string{doc(idAllowKey)}, who: alice, action: "kms:Decrypt", want: allow},
		{name: "fail/default/user-identity-other-key", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:*","Resource":"` + key2 + `"}`)}, who: alice, action: "kms:Decrypt", want: noIdentity},
		{name: "fail/default/user-identity-other-action", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`)}, who: alice, action: "kms:Encrypt", want: noIdentity},
		{name: "ok/default/identity-action-wildcard", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:GenerateDataKey*","Resource":"*"}`)}, who: alice, action: "kms:GenerateDataKeyWithoutPlaintext", want: allow},
		{name: "ok/default/identity-action-case-insensitive", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"KMS:encrypt","Resource":"*"}`)}, who: alice, action: "kms:Encrypt", want: allow},
		{name: "ok/default/identity-action-question-mark", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:?ncrypt","Resource":"*"}`)}, who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/default/identity-explicit-deny", kp: defaultKP, identity: []string{doc(idAllowAll, idDenyEnc)}, who: alice, action: "kms:Encrypt", want: denyIdentity},
		{name: "fail/default/identity-deny-in-second-policy", kp: defaultKP, identity: []string{doc(idAllowAll), doc(idDenyEnc)}, who: alice, action: "kms:Encrypt", want: denyIdentity},
		{name: "ok/default/role-session-identity", kp: defaultKP, identity: []string{doc(idAllowAll)}, who: admin, action: "kms:DisableKey", want: allow},
		{name: "fail/default/role-session-no-identity", kp: defaultKP, who: admin, action: "kms:DisableKey", want: noIdentity},
		{name: "fail/default/identity-notaction-excludes", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","NotAction":"kms:Encrypt","Resource":"*"}`)}, who: alice, action: "kms:Encrypt", want: noIdentity},
		{name: "ok/default/identity-notaction-other", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","NotAction":["kms:Delete*","kms:Schedule*"],"Resource":"*"}`)}, who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/default/identity-notresource-key", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:*","NotResource":"` + keyARN + `"}`)}, who: alice, action: "kms:Encrypt", want: noIdentity},
		{name: "ok/default/identity-resource-wildcards", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/*"}`)}, who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/default/identity-resource-case-sensitive", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:US-EAST-1:111122223333:key/*"}`)}, who: alice, action: "kms:Encrypt", want: noIdentity},
		{name: "ok/default/identity-resource-question-marks", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-?:111122223333:key/1234abcd-*"}`)}, who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/default/identity-deny-beats-grant", kp: defaultKP, identity: []string{doc(idDenyEnc)}, who: bob, action: "kms:Encrypt", grant: plainGrant, want: denyIdentity},
		{name: "ok/default/identity-policy-version-2008", kp: defaultKP, identity: []string{`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`}, who: alice, action: "kms:Encrypt", want: allow},

		// Key policy naming principals directly: no IAM needed, IAM cannot extend.
		{name: "ok/direct/user-encrypt", kp: direct, who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/direct/user-action-not-listed", kp: direct, who: alice, action: "kms:DisableKey", want: noResource},
		{name: "fail/direct/other-user", kp: direct, who: bob, action: "kms:Encrypt", want: noResource},
		{name: "fail/direct/identity-alone-never-grants", kp: direct, identity: []string{doc(idAllowAll)}, who: alice, action: "kms:DisableKey", want: noResource},
		{name: "fail/direct/identity-alone-other-user", kp: direct, identity: []string{doc(idAllowAll)}, who: bob, action: "kms:Encrypt", want: noResource},
		{name: "fail/direct/root-not-named", kp: direct, who: rootA, action: "kms:Encrypt", want: noResource},
		{name: "ok/direct/role-arn-matches-session", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:*","Resource":"*"}`), who: admin, action: "kms:EnableKey", want: allow},
		{name: "fail/direct/role-arn-other-role", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:*","Resource":"*"}`), who: dev, action: "kms:EnableKey", want: noResource},
		{name: "ok/direct/session-arn-named", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/Dev/s2"},"Action":"kms:Decrypt","Resource":"*"}`), who: dev, action: "kms:Decrypt", want: allow},
		{name: "ok/direct/principal-star-string", kp: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}`), who: bob, action: "kms:Encrypt", want: allow},
		{name: "ok/direct/principal-aws-star", kp: doc(stAllowAll), who: bob, action: "kms:Encrypt", want: allow},
		{name: "ok/direct/account-id-form-delegates", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`), identity: []string{doc(idAllowAll)}, who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/direct/account-id-form-needs-identity", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`), who: alice, action: "kms:Encrypt", want: noIdentity},
		{name: "ok/direct/service-principal", kp: doc(`{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:GenerateDataKey*","Resource":"*"}`), who: logsSvc, action: "kms:GenerateDataKey", want: allow},
		{name: "fail/direct/service-principal-other-service", kp: doc(`{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"kms:*","Resource":"*"}`), who: logsSvc, action: "kms:GenerateDataKey", want: noResource},
		{name: "fail/direct/user-is-not-service", kp: doc(`{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}`), who: alice, action: "kms:Encrypt", want: noResource},
		{name: "fail/direct/statement-without-resource", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*"}`), who: alice, action: "kms:Encrypt", want: noResource},
		{name: "fail/direct/statement-without-action", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Resource":"*"}`), who: alice, action: "kms:Encrypt", want: noResource},
		{name: "ok/direct/resource-names-key", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Encrypt","Resource":"` + keyARN + `"}`), who: alice, action: "kms:Encrypt", want: allow},
		{name: "ok/console/admin-role-manages", kp: console, who: admin, action: "kms:ScheduleKeyDeletion", want: allow},
		{name: "fail/console/admin-role-cannot-decrypt", kp: console, who: admin, action: "kms:Decrypt", want: noIdentity},
		{name: "ok/console/user-reencrypt-wildcard", kp: console, who: alice, action: "kms:ReEncryptFrom", want: allow},
		{name: "fail/console/user-cannot-disable", kp: console, who: alice, action: "kms:DisableKey", want: noIdentity},

		// Explicit deny in the key policy.
		{name: "fail/deny/key-policy-deny-user", kp: denyAliceDecrypt, identity: []string{doc(idAllowAll)}, who: alice, action: "kms:Decrypt", want: denyResource},
		{name: "ok/deny/key-policy-deny-other-action", kp: denyAliceDecrypt, identity: []string{doc(idAllowAll)}, who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/deny/key-policy-deny-beats-grant", kp: denyAliceDecrypt, who: alice, action: "kms:Decrypt", grant: &Grant{GranteePrincipal: alice.ARN, Operations: []string{"Decrypt"}}, want: denyResource},
		{name: "fail/deny/account-root-deny-covers-users", kp: doc(stAllowAll, `{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}`), who: alice, action: "kms:ScheduleKeyDeletion", want: denyResource},
		{name: "fail/deny/account-root-deny-covers-root", kp: doc(stRootA, `{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}`), who: rootA, action: "kms:ScheduleKeyDeletion", want: denyResource},
		{name: "fail/deny/notprincipal-denies-others", kp: doc(stAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}`), who: bob, action: "kms:Decrypt", want: denyResource},
		{name: "ok/deny/notprincipal-exempts-listed", kp: doc(stAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}`), who: alice, action: "kms:Decrypt", want: allow},
		{name: "fail/deny/notprincipal-role-does-not-exempt-session", kp: doc(stAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:Decrypt","Resource":"*"}`), who: admin, action: "kms:Decrypt", want: denyResource},
		{name: "fail/deny/conditional-deny-matches", kp: doc(stAllowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"forbidden"}}}`), who: alice, action: "kms:Decrypt", ctx: ctx("kms:EncryptionContext:purpose", "forbidden"), want: denyResource},
		{name: "ok/deny/conditional-deny-not-matching", kp: doc(stAllowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"forbidden"}}}`), who: alice, action: "kms:Decrypt", ctx: ctx("kms:EncryptionContext:purpose", "ok"), want: allow},
		{name: "fail/deny/notaction-deny", kp: doc(stAllowAll, `{"Effect":"Deny","Principal":"*","NotAction":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`), who: alice, action: "kms:DisableKey", want: denyResource},

		// Grants.
		{name: "ok/grant/unconstrained", kp: direct, who: bob, action: "kms:GenerateDataKey", grant: plainGrant, want: allow},
		{name: "fail/grant/none", kp: direct, who: bob, action: "kms:GenerateDataKey", want: noResource},
		{name: "fail/grant/operation-not-granted", kp: direct, who: bob, action: "kms:ReEncryptFrom", grant: plainGrant, want: noResource},
		{name: "ok/grant/equals-constraint-met", kp: direct, who: bob, action: "kms:Decrypt", grant: ecGrant, ec: map[string]string{"app": "billing"}, want: allow},
		{name: "fail/grant/equals-constraint-extra-pair", kp: direct, who: bob, action: "kms:Decrypt", grant: ecGrant, ec: map[string]string{"app": "billing", "x": "y"}, want: noResource},
		{name: "fail/grant/equals-constraint-value-case", kp: direct, who: bob, action: "kms:Decrypt", grant: ecGrant, ec: map[string]string{"app": "Billing"}, want: noResource},
		{name: "ok/grant/subset-constraint-superset-request", kp: direct, who: bob, action: "kms:Decrypt", grant: subGrant, ec: map[string]string{"app": "billing", "x": "y"}, want: allow},
		{name: "fail/grant/subset-constraint-missing-pair", kp: direct, who: bob, action: "kms:Decrypt", grant: subGrant, ec: map[string]string{"x": "y"}, want: noResource},
		{name: "ok/grant/constraint-ignored-for-describekey", kp: direct, who: bob, action: "kms:DescribeKey", grant: ecGrant, want: allow},
		{name: "fail/grant/constraint-blocks-sign", kp: direct, who: bob, action: "kms:Sign", grant: ecGrant, want: noResource},
		{name: "ok/grant/role-grantee-session", kp: direct, who: dev, action: "kms:Decrypt", grant: roleGrant, want: allow},
		{name: "fail/grant/other-grantee", kp: direct, who: alice, action: "kms:GenerateDataKey", grant: plainGrant, want: noResource},
		{name: "ok/grant/cross-account-grantee", kp: direct, who: carol, action: "kms:Decrypt", grant: carolGrant, want: allow},

		// Cross-account.
		{name: "ok/cross/account-root-and-identity", kp: crossKP, identity: []string{doc(idAllowKey)}, who: carol, action: "kms:Encrypt", want: allow},
		{name: "fail/cross/account-root-without-identity", kp: crossKP, who: carol, action: "kms:Encrypt", want: noIdentity},
		{name: "ok/cross/other-root-needs-no-identity", kp: crossKP, who: rootB, action: "kms:Decrypt", want: allow},
		{name: "fail/cross/action-not-in-key-policy", kp: crossKP, identity: []string{doc(idAllowAll)}, who: carol, action: "kms:GenerateDataKey", want: noResource},
		{name: "fail/cross/management-op-never-cross-account", kp: crossKP, identity: []string{doc(idAllowAll)}, who: carol, action: "kms:ScheduleKeyDeletion", want: noResource},
		{name: "fail/cross/disablekey-even-with-kms-star", kp: doc(stRootA, stCrossBAll), identity: []string{doc(idAllowAll)}, who: carol, action: "kms:DisableKey", want: noResource},
		{name: "fail/cross/getkeypolicy-not-cross-account", kp: doc(stRootA, stCrossBAll), identity: []string{doc(idAllowAll)}, who: rootB, action: "kms:GetKeyPolicy", want: noResource},
		{name: "ok/cross/describekey", kp: crossKP, identity: []string{doc(idAllowAll)}, who: carol, action: "kms:DescribeKey", want: allow},
		{name: "ok/cross/creategrant", kp: crossKP, identity: []string{doc(idAllowAll)}, who: carol, action: "kms:CreateGrant", want: allow},
		{name: "ok/cross/reencryptfrom", kp: crossKP, identity: []string{doc(idAllowAll)}, who: carol, action: "kms:ReEncryptFrom", want: allow},
		{name: "ok/cross/listgrants", kp: doc(stRootA, stCrossBAll), identity: []string{doc(idAllowAll)}, who: carol, action: "kms:ListGrants", want: allow},
		{name: "fail/cross/default-policy-excludes-other-account", kp: defaultKP, identity: []string{doc(idAllowAll)}, who: carol, action: "kms:Decrypt", want: noResource},
		{name: "ok/cross/star-with-calleraccount", kp: starCaller, identity: []string{doc(idAllowAll)}, who: carol, action: "kms:Decrypt", want: allow},
		{name: "fail/cross/star-still-needs-identity", kp: starCaller, who: carol, action: "kms:Decrypt", want: noIdentity},
		{name: "fail/cross/calleraccount-mismatch", kp: starCallerOther, identity: []string{doc(idAllowAll)}, who: carol, action: "kms:Encrypt", want: noResource},
		{name: "fail/cross/identity-deny", kp: crossKP, identity: []string{doc(idAllowAll, idDenyEnc)}, who: carol, action: "kms:Encrypt", want: denyIdentity},
		{name: "fail/cross/named-user-needs-identity", kp: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/carol"},"Action":"kms:Decrypt","Resource":"*"}`), who: carol, action: "kms:Decrypt", want: noIdentity},

		// Conditions and tags.
		{name: "ok/cond/encryption-context-equals", kp: aliceCond("kms:Decrypt", `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("kms:EncryptionContext:Department", "IT"), want: allow},
		{name: "fail/cond/encryption-context-value", kp: aliceCond("kms:Decrypt", `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("kms:EncryptionContext:Department", "it"), want: noResource},
		{name: "ok/cond/encryption-context-ignorecase", kp: aliceCond("kms:Decrypt", `{"StringEqualsIgnoreCase":{"kms:EncryptionContext:Department":"IT"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("kms:EncryptionContext:Department", "it"), want: allow},
		{name: "ok/cond/condition-key-case-insensitive", kp: aliceCond("kms:Decrypt", `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("KMS:ENCRYPTIONCONTEXT:department", "IT"), want: allow},
		{name: "fail/cond/encryption-context-missing", kp: aliceCond("kms:Decrypt", `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`), who: alice, action: "kms:Decrypt", want: noResource},
		{name: "ok/cond/ifexists-missing", kp: aliceCond("kms:Decrypt", `{"StringEqualsIfExists":{"kms:EncryptionContext:Department":"IT"}}`), who: alice, action: "kms:Decrypt", want: allow},
		{name: "fail/cond/ifexists-present-mismatch", kp: aliceCond("kms:Decrypt", `{"StringEqualsIfExists":{"kms:EncryptionContext:Department":"IT"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("kms:EncryptionContext:Department", "HR"), want: noResource},
		{name: "ok/cond/forallvalues-subset", kp: aliceCond("kms:Encrypt", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`), who: alice, action: "kms:Encrypt", ctx: ctx("kms:EncryptionContextKeys", []string{"a"}), want: allow},
		{name: "fail/cond/forallvalues-extra-key", kp: aliceCond("kms:Encrypt", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`), who: alice, action: "kms:Encrypt", ctx: ctx("kms:EncryptionContextKeys", []string{"a", "c"}), want: noResource},
		{name: "ok/cond/forallvalues-empty-set-matches", kp: aliceCond("kms:Encrypt", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`), who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/cond/foranyvalue-empty-set-fails", kp: aliceCond("kms:Encrypt", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`), who: alice, action: "kms:Encrypt", want: noResource},
		{name: "ok/cond/foranyvalue-one-matches", kp: aliceCond("kms:Encrypt", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`), who: alice, action: "kms:Encrypt", ctx: ctx("kms:EncryptionContextKeys", []string{"z", "b"}), want: allow},
		{name: "ok/cond/stringlike-viaservice", kp: aliceCond("kms:Decrypt", `{"StringLike":{"kms:ViaService":"ec2.*.amazonaws.com"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("kms:ViaService", "ec2.us-east-1.amazonaws.com"), want: allow},
		{name: "fail/cond/stringlike-viaservice-other", kp: aliceCond("kms:Decrypt", `{"StringLike":{"kms:ViaService":"ec2.*.amazonaws.com"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("kms:ViaService", "s3.us-east-1.amazonaws.com"), want: noResource},
		{name: "fail/cond/stringnotequals-keyspec-deny", kp: doc(stAllowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}}`), who: alice, action: "kms:Sign", ctx: ctx("kms:KeySpec", "RSA_2048"), want: denyResource},
		{name: "ok/cond/stringnotequals-keyspec-same", kp: doc(stAllowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}}`), who: alice, action: "kms:Encrypt", ctx: ctx("kms:KeySpec", "SYMMETRIC_DEFAULT", "kms:KeyUsage", "ENCRYPT_DECRYPT"), want: allow},
		{name: "ok/cond/bool-securetransport", kp: aliceCond("kms:Encrypt", `{"Bool":{"aws:SecureTransport":"true"}}`), who: alice, action: "kms:Encrypt", ctx: ctx("aws:SecureTransport", "true"), want: allow},
		{name: "fail/cond/bool-securetransport-false", kp: aliceCond("kms:Encrypt", `{"Bool":{"aws:SecureTransport":true}}`), who: alice, action: "kms:Encrypt", ctx: ctx("aws:SecureTransport", "false"), want: noResource},
		{name: "ok/cond/ipaddress-in-cidr", kp: aliceCond("kms:Encrypt", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.7"]}}`), who: alice, action: "kms:Encrypt", ctx: ctx("aws:SourceIp", "10.1.2.3"), want: allow},
		{name: "fail/cond/ipaddress-outside", kp: aliceCond("kms:Encrypt", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.7"]}}`), who: alice, action: "kms:Encrypt", ctx: ctx("aws:SourceIp", "192.0.2.8"), want: noResource},
		{name: "fail/cond/notipaddress-deny", kp: doc(stAllowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`), who: alice, action: "kms:Encrypt", ctx: ctx("aws:SourceIp", "::1"), want: denyResource},
		{name: "ok/cond/date-before-expiry", kp: aliceCond("kms:Encrypt", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`), who: alice, action: "kms:Encrypt", ctx: ctx("aws:CurrentTime", "2026-05-01T12:00:00Z"), want: allow},
		{name: "fail/cond/date-after-expiry", kp: aliceCond("kms:Encrypt", `{"DateLessThan":{"aws:CurrentTime":"2025-01-01"}}`), who: alice, action: "kms:Encrypt", ctx: ctx("aws:CurrentTime", "2026-05-01T12:00:00Z"), want: noResource},
		{name: "ok/cond/numeric-window", kp: aliceCond("kms:ScheduleKeyDeletion", `{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`), who: alice, action: "kms:ScheduleKeyDeletion", ctx: ctx("kms:ScheduleKeyDeletionPendingWindowInDays", "30"), want: allow},
		{name: "fail/cond/numeric-window-too-short", kp: aliceCond("kms:ScheduleKeyDeletion", `{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"30"}}`), who: alice, action: "kms:ScheduleKeyDeletion", ctx: ctx("kms:ScheduleKeyDeletionPendingWindowInDays", "7"), want: noResource},
		{name: "ok/cond/resource-tag", kp: aliceCond("kms:Decrypt", `{"StringEquals":{"aws:ResourceTag/Project":"blue"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("aws:ResourceTag/Project", "blue"), want: allow},
		{name: "fail/cond/resource-tag-mismatch", kp: aliceCond("kms:Decrypt", `{"StringEquals":{"aws:ResourceTag/Project":"blue"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("aws:ResourceTag/Project", "red"), want: noResource},
		{name: "ok/cond/request-tag-and-tag-keys", kp: aliceCond("kms:TagResource", `{"StringEquals":{"aws:RequestTag/Env":["dev","test"]},"ForAllValues:StringEquals":{"aws:TagKeys":["Env","Owner"]}}`), who: alice, action: "kms:TagResource", ctx: ctx("aws:RequestTag/Env", "test", "aws:TagKeys", []string{"Env"}), want: allow},
		{name: "fail/cond/tag-keys-not-allowed", kp: aliceCond("kms:TagResource", `{"StringEquals":{"aws:RequestTag/Env":["dev","test"]},"ForAllValues:StringEquals":{"aws:TagKeys":["Env","Owner"]}}`), who: alice, action: "kms:TagResource", ctx: ctx("aws:RequestTag/Env", "test", "aws:TagKeys", []string{"Env", "CostCenter"}), want: noResource},
		{name: "ok/cond/null-true-key-absent", kp: aliceCond("kms:Encrypt", `{"Null":{"aws:ResourceTag/Owner":"true"}}`), who: alice, action: "kms:Encrypt", want: allow},
		{name: "fail/cond/null-false-key-absent", kp: aliceCond("kms:Encrypt", `{"Null":{"aws:ResourceTag/Owner":"false"}}`), who: alice, action: "kms:Encrypt", want: noResource},
		{name: "ok/cond/arnlike-principalarn-role", kp: aliceCond("kms:Encrypt", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Adm*"}}`), who: admin, action: "kms:Encrypt", want: allow},
		{name: "fail/cond/arnlike-principalarn-user", kp: aliceCond("kms:Encrypt", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Adm*"}}`), who: alice, action: "kms:Encrypt", want: noResource},
		{name: "ok/cond/variable-username-owner-tag", kp: aliceCond("kms:Decrypt", `{"StringEquals":{"aws:ResourceTag/Owner":"${aws:username}"}}`), who: alice, action: "kms:Decrypt", ctx: ctx("aws:ResourceTag/Owner", "alice"), want: allow},
		{name: "fail/cond/variable-username-other-owner", kp: aliceCond("kms:Decrypt", `{"StringEquals":{"aws:ResourceTag/Owner":"${aws:username}"}}`), who: bob, action: "kms:Decrypt", ctx: ctx("aws:ResourceTag/Owner", "alice"), want: noResource},
		{name: "ok/cond/grant-for-aws-resource", kp: console, who: alice, action: "kms:CreateGrant", ctx: ctx("kms:GrantIsForAWSResource", "true"), want: allow},
		{name: "fail/cond/grant-not-for-aws-resource", kp: console, who: alice, action: "kms:CreateGrant", ctx: ctx("kms:GrantIsForAWSResource", "false"), want: noIdentity},
		{name: "ok/cond/grant-operations-subset", kp: aliceCond("kms:CreateGrant", `{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]},"StringEquals":{"kms:GranteePrincipal":"arn:aws:iam::111122223333:role/Dev","kms:GrantConstraintType":"EncryptionContextSubset"}}`), who: alice, action: "kms:CreateGrant", ctx: ctx("kms:GrantOperations", []string{"Decrypt"}, "kms:GranteePrincipal", dev.RoleARN, "kms:GrantConstraintType", "EncryptionContextSubset"), want: allow},
		{name: "fail/cond/grant-operations-one-key-fails", kp: aliceCond("kms:CreateGrant", `{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]},"StringEquals":{"kms:GranteePrincipal":"arn:aws:iam::111122223333:role/Dev","kms:GrantConstraintType":"EncryptionContextSubset"}}`), who: alice, action: "kms:CreateGrant", ctx: ctx("kms:GrantOperations", []string{"Decrypt"}, "kms:GranteePrincipal", dev.RoleARN, "kms:GrantConstraintType", "EncryptionContextEquals"), want: noResource},
		{name: "ok/cond/request-alias-like", kp: aliceCond("kms:Encrypt", `{"StringLike":{"kms:RequestAlias":"alias/app-*"}}`), who: alice, action: "kms:Encrypt", ctx: ctx("kms:RequestAlias", "alias/app-prod"), want: allow},
		{name: "ok/cond/resource-aliases-any", kp: aliceCond("kms:Encrypt", `{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/finance"}}`), who: alice, action: "kms:Encrypt", ctx: ctx("kms:ResourceAliases", []string{"alias/x", "alias/finance"}), want: allow},
		{name: "ok/cond/algorithm-and-origin", kp: aliceCond("kms:Encrypt", `{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT","kms:KeyOrigin":"AWS_KMS"}}`), who: alice, action: "kms:Encrypt", ctx: ctx("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT", "kms:KeyOrigin", "AWS_KMS"), want: allow},
		{name: "fail/cond/signing-algorithm", kp: aliceCond("kms:Sign", `{"StringEquals":{"kms:SigningAlgorithm":"ECDSA_SHA_256"}}`), who: alice, action: "kms:Sign", ctx: ctx("kms:SigningAlgorithm", "RSASSA_PSS_SHA_256"), want: noResource},
		{name: "ok/cond/mac-algorithm", kp: aliceCond("kms:GenerateMac", `{"StringEquals":{"kms:MacAlgorithm":["HMAC_SHA_256","HMAC_SHA_512"]}}`), who: alice, action: "kms:GenerateMac", ctx: ctx("kms:MacAlgorithm", "HMAC_SHA_512"), want: allow},
		{name: "ok/cond/principal-account", kp: aliceCond("kms:Encrypt", `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`), who: bob, action: "kms:Encrypt", want: allow},
		{name: "ok/cond/identity-variable-resource-tag", kp: defaultKP, identity: []string{doc(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/Team":"${aws:PrincipalTag/Team}"}}}`)}, who: alice, action: "kms:Encrypt", ctx: ctx("aws:ResourceTag/Team", "red", "aws:PrincipalTag/Team", "red"), want: allow},

		// IAM-only actions.
		{name: "ok/iam/createkey-identity", identity: []string{doc(`{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}`)}, who: alice, action: "kms:CreateKey", want: allow},
		{name: "fail/iam/createkey-no-identity", who: alice, action: "kms:CreateKey", want: noIdentity},
		{name: "ok/iam/createkey-root", who: rootA, action: "kms:CreateKey", want: allow},
		{name: "fail/iam/createkey-explicit-deny", identity: []string{doc(idAllowAll, `{"Effect":"Deny","Action":"kms:Create*","Resource":"*"}`)}, who: admin, action: "kms:CreateKey", want: denyIdentity},
		{name: "fail/iam/resource-arn-does-not-match-star", identity: []string{doc(`{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/*"}`)}, who: alice, action: "kms:ListKeys", want: noIdentity},
		{name: "ok/iam/generaterandom", identity: []string{doc(`{"Effect":"Allow","Action":"kms:GenerateRandom","Resource":"*"}`)}, who: dev, action: "kms:GenerateRandom", want: allow},
		{name: "fail/iam/bypass-lockout-denied", identity: []string{doc(idAllowAll, `{"Effect":"Deny","Action":"kms:CreateKey","Resource":"*","Condition":{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"true"}}}`)}, who: alice, action: "kms:CreateKey", ctx: ctx("kms:BypassPolicyLockoutSafetyCheck", "true"), want: denyIdentity},
		{name: "ok/iam/bypass-lockout-not-set", identity: []string{doc(idAllowAll, `{"Effect":"Deny","Action":"kms:CreateKey","Resource":"*","Condition":{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"true"}}}`)}, who: alice, action: "kms:CreateKey", want: allow},
	}
}

func TestAuthorizeMatrix(t *testing.T) {
	t.Parallel()
	cases := matrixCases()
	if len(cases) < 80 {
		t.Fatalf("matrix has %d cases, want at least 80", len(cases))
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if strings.HasPrefix(tc.name, "ok/") != (tc.want == allow) {
				t.Fatalf("case name prefix disagrees with expectation")
			}
			in := Input{KeyAccount: acctA}
			res := tc.resource
			if tc.kp != "" {
				kp, err := Parse(tc.kp)
				if err != nil {
					t.Fatalf("Parse(key policy): %v", err)
				}
				in.KeyPolicy = kp
				if res == "" {
					res = keyARN
				}
			} else if res == "" {
				res = "*"
			}
			for _, d := range tc.identity {
				ip, err := ParseIdentity(d)
				if err != nil {
					t.Fatalf("ParseIdentity: %v", err)
				}
				in.Identity = append(in.Identity, ip)
			}
			if tc.grant != nil {
				in.GrantAllows = tc.grant.Allows(tc.who, tc.action, tc.ec)
			}
			req := &Request{Action: tc.action, Resource: res, Principal: tc.who}
			if tc.ctx != nil {
				req.Context = tc.ctx
			}
			err := Authorize(req, in)
			var wantErr *awserr.Error
			switch tc.want {
			case noResource:
				wantErr = DenyNoResourcePolicy(tc.who.ARN, tc.action, res)
			case noIdentity:
				wantErr = DenyNoIdentityPolicy(tc.who.ARN, tc.action, res)
			case denyResource:
				wantErr = DenyExplicitResource(tc.who.ARN, tc.action, res)
			case denyIdentity:
				wantErr = DenyExplicitIdentity(tc.who.ARN, tc.action, res)
			}
			if wantErr != nil && in.KeyPolicy != nil && tc.who.Type != TypeAWSService && tc.who.Account != acctA {
				// Every denial across accounts gives one message, whatever
				// its reason (tc.want).
				wantErr = DenyCrossAccount(tc.who.ARN, tc.action)
			}
			if wantErr == nil {
				if err != nil {
					t.Fatalf("Authorize = %v, want allowed", err)
				}
				return
			}
			got := awserr.As(err)
			if got == nil || got.Code != awserr.AccessDenied || got.Message != wantErr.Message {
				t.Fatalf("Authorize = %v,\nwant %v", err, wantErr)
			}
		})
	}
}
