package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trentkms/trent/internal/iam"
)

// newUser creates an IAM user of account and an access key for it on the
// shared node directly in the directory and returns a client signed as
// that user and the user's ARN. (Key policies and grants may only name
// users that exist, as in AWS.)
func newUser(t testing.TB, acct string) (*kms.Client, string) {
	t.Helper()
	name := uniq("user")
	if _, err := shared.Directory.CreateUser(ctxT(t), acct, name, "/"); err != nil {
		t.Fatal(err)
	}
	k, secret, err := shared.Directory.CreateUserAccessKey(ctxT(t), acct, name)
	if err != nil {
		t.Fatal(err)
	}
	return newClient(shared.Endpoint, withCredentials(k.ID, secret)), "arn:aws:iam::" + acct + ":user/" + name
}

func denyMsg(principal, action, keyID, why string) string {
	return "User: " + principal + " is not authorized to perform: " + action + " on resource: " + keyARN(keyID) + " because no " + why + "-based policy allows the " + action + " action"
}

// TestGrantLifecycle drives grants with the SDK: a grant token works at
// once, the grant shows in ListGrants and ListRetirableGrants, revoking and
// retiring take access away again.
func TestGrantLifecycle(t *testing.T) {
	t.Parallel()
	admin := newClient(shared.Endpoint)
	user, userARN := newUser(t, account)
	retirer, retirerARN := newUser(t, account)
	id := *createKey(t, admin, nil).KeyId
	enc := func(tokens ...string) error {
		_, err := user.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x"), GrantTokens: tokens,
			EncryptionContext: map[string]string{"app": "e2e"}})
		return err
	}
	wantAPIError(t, enc(), "AccessDeniedException", denyMsg(userARN, "kms:Encrypt", id, "identity"))

	g, err := admin.CreateGrant(ctxT(t), &kms.CreateGrantInput{KeyId: &id, GranteePrincipal: &userARN, RetiringPrincipal: &retirerARN,
		Operations: []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt}, Name: aws.String("e2e-grant"),
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "e2e"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(*g.GrantId) != 64 {
		t.Fatalf("GrantId %q", *g.GrantId)
	}
	t.Run("ok/grant token works at once", func(t *testing.T) {
		if err := enc(*g.GrantToken); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/constraint not met", func(t *testing.T) {
		_, err := user.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x"), EncryptionContext: map[string]string{"app": "other"}})
		wantAPIError(t, err, "AccessDeniedException", anyMessage)
	})
	t.Run("fail/invalid grant token", func(t *testing.T) {
		wantAPIError(t, enc("bm90IGEgdG9rZW4="), "InvalidGrantTokenException", anyMessage)
	})
	t.Run("ok/ListGrants shape", func(t *testing.T) {
		out, err := admin.ListGrants(ctxT(t), &kms.ListGrantsInput{KeyId: &id})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Grants) != 1 || out.Truncated {
			t.Fatalf("grants %d truncated %v", len(out.Grants), out.Truncated)
		}
		e := out.Grants[0]
		if *e.KeyId != keyARN(id) || *e.GrantId != *g.GrantId || *e.Name != "e2e-grant" || *e.GranteePrincipal != userARN ||
			*e.RetiringPrincipal != retirerARN || *e.IssuingAccount != "arn:aws:iam::"+account+":root" || e.CreationDate == nil ||
			len(e.Operations) != 2 || e.Constraints == nil || e.Constraints.EncryptionContextSubset["app"] != "e2e" {
			t.Fatalf("entry %+v", e)
		}
	})
	t.Run("ok/ListRetirableGrants", func(t *testing.T) {
		out, err := admin.ListRetirableGrants(ctxT(t), &kms.ListRetirableGrantsInput{RetiringPrincipal: &retirerARN})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Grants) != 1 || *out.Grants[0].GrantId != *g.GrantId || *out.Grants[0].KeyId != keyARN(id) {
			t.Fatalf("retirable %+v", out.Grants)
		}
	})
	t.Run("ok/same Name returns the same grant", func(t *testing.T) {
		again, err := admin.CreateGrant(ctxT(t), &kms.CreateGrantInput{KeyId: &id, GranteePrincipal: &userARN, RetiringPrincipal: &retirerARN,
			Operations: []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt}, Name: aws.String("e2e-grant"),
			Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "e2e"}}})
		if err != nil || *again.GrantId != *g.GrantId {
			t.Fatalf("retry: %v %v", err, again)
		}
	})
	t.Run("ok/retire by token", func(t *testing.T) {
		if _, err := retirer.RetireGrant(ctxT(t), &kms.RetireGrantInput{GrantToken: g.GrantToken}); err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, enc(), "AccessDeniedException", denyMsg(userARN, "kms:Encrypt", id, "identity"))
	})

	g2, err := admin.CreateGrant(ctxT(t), &kms.CreateGrantInput{KeyId: &id, GranteePrincipal: &userARN,
		Operations: []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationRetireGrant}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/retire by key and grant ID as the grantee", func(t *testing.T) {
		if err := enc(); err != nil {
			t.Fatal(err)
		}
		if _, err := user.RetireGrant(ctxT(t), &kms.RetireGrantInput{KeyId: aws.String(keyARN(id)), GrantId: g2.GrantId}); err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, enc(), "AccessDeniedException", anyMessage)
	})

	g3, err := admin.CreateGrant(ctxT(t), &kms.CreateGrantInput{KeyId: &id, GranteePrincipal: &userARN,
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/revoke denies again", func(t *testing.T) {
		if err := enc(); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.RevokeGrant(ctxT(t), &kms.RevokeGrantInput{KeyId: &id, GrantId: g3.GrantId}); err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, enc(*g3.GrantToken), "AccessDeniedException", anyMessage)
		_, err := admin.RevokeGrant(ctxT(t), &kms.RevokeGrantInput{KeyId: &id, GrantId: g3.GrantId})
		wantAPIError(t, err, "NotFoundException", anyMessage)
	})
	t.Run("fail/grantee may not revoke", func(t *testing.T) {
		_, err := user.RevokeGrant(ctxT(t), &kms.RevokeGrantInput{KeyId: &id, GrantId: g3.GrantId})
		wantAPIError(t, err, "AccessDeniedException", denyMsg(userARN, "kms:RevokeGrant", id, "identity"))
	})
}

// TestPolicyWithoutRootStatement: once the key policy no longer delegates
// to the account, IAM is irrelevant and only the named principal (and
// grants) can use the key.
func TestPolicyWithoutRootStatement(t *testing.T) {
	t.Parallel()
	admin := newClient(shared.Endpoint)
	named, namedARN := newUser(t, account)
	other, otherARN := newUser(t, account)
	id := *createKey(t, admin, nil).KeyId
	p := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + namedARN + `"},"Action":"kms:*","Resource":"*"}]}`
	_, err := admin.PutKeyPolicy(ctxT(t), &kms.PutKeyPolicyInput{KeyId: &id, Policy: &p})
	wantAPIError(t, err, "MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future.")
	if _, err := admin.PutKeyPolicy(ctxT(t), &kms.PutKeyPolicyInput{KeyId: &id, Policy: &p, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := named.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("named principal: %v", err)
	}
	_, err = other.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", denyMsg(otherARN, "kms:Encrypt", id, "resource"))
	_, err = admin.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: &id})
	wantAPIError(t, err, "AccessDeniedException", denyMsg("arn:aws:iam::"+account+":root", "kms:DescribeKey", id, "resource"))
	// The named user may still change the policy, and restore the root.
	if _, err := named.PutKeyPolicy(ctxT(t), &kms.PutKeyPolicyInput{KeyId: &id, Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},{"Effect":"Allow","Principal":{"AWS":"` + namedARN + `"},"Action":"kms:*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: &id}); err != nil {
		t.Fatalf("after restoring the root statement: %v", err)
	}
}

// TestCrossAccountUse: another account's root uses a key whose policy
// delegates to that account, by key ARN, for the operations AWS allows
// across accounts; a user of that account needs a grant (or IAM policies).
func TestCrossAccountUse(t *testing.T) {
	t.Parallel()
	const other = "444455556666"
	admin := newClient(shared.Endpoint)
	akid, secret := iam.NewAccessKeyID(false), iam.NewSecret()
	if err := shared.Directory.CreateAccessKey(ctxT(t), iam.AccessKey{ID: akid, Secret: secret, Account: other, Type: iam.TypeRoot}); err != nil {
		t.Fatal(err)
	}
	otherRoot := newClient(shared.Endpoint, withCredentials(akid, secret))
	carol, carolARN := newUser(t, other)
	p := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + other + `:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:CreateGrant","kms:ScheduleKeyDeletion"],"Resource":"*"}]}`
	id := *createKey(t, admin, &kms.CreateKeyInput{Policy: &p}).KeyId
	arn := aws.String(keyARN(id))
	if _, err := otherRoot.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: arn, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("other account root: %v", err)
	}
	_, err := otherRoot.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: arn, PendingWindowInDays: aws.Int32(7)})
	wantAPIError(t, err, "AccessDeniedException", anyMessage)
	_, err = carol.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: arn, Plaintext: []byte("x")})
	// Across accounts every denial is AWS's one message that names no
	// resource (docs/principals.md).
	wantAPIError(t, err, "AccessDeniedException", "User: "+carolARN+" is not authorized to perform: kms:Encrypt on this resource "+
		"because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access")
	// The other account's root delegates to carol with a grant.
	g, err := otherRoot.CreateGrant(ctxT(t), &kms.CreateGrantInput{KeyId: arn, GranteePrincipal: &carolARN,
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: arn, Plaintext: []byte("x"), GrantTokens: []string{*g.GrantToken}}); err != nil {
		t.Fatalf("carol with the grant: %v", err)
	}
	out, err := admin.ListGrants(ctxT(t), &kms.ListGrantsInput{KeyId: &id})
	if err != nil || len(out.Grants) != 1 || *out.Grants[0].IssuingAccount != "arn:aws:iam::"+other+":root" {
		t.Fatalf("ListGrants: %v %+v", err, out)
	}
}

// TestIdentityPolicyDelegation: a user's IAM policy counts only through the
// key policy's root statement, and an explicit IAM deny beats a grant.
func TestIdentityPolicyDelegation(t *testing.T) {
	t.Parallel()
	admin := newClient(shared.Endpoint)
	d := shared.Directory
	name := uniq("iamuser")
	if _, err := d.CreateUser(ctxT(t), account, name, "/"); err != nil {
		t.Fatal(err)
	}
	ak, secret, err := d.CreateUserAccessKey(ctxT(t), account, name)
	if err != nil {
		t.Fatal(err)
	}
	user := newClient(shared.Endpoint, withCredentials(ak.ID, secret))
	userARN := d.UserARN(account, name, "/")
	enc := func(id string) error {
		_, err := user.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
		return err
	}
	delegating := *createKey(t, admin, nil).KeyId
	wantAPIError(t, enc(delegating), "AccessDeniedException", denyMsg(userARN, "kms:Encrypt", delegating, "identity"))

	if err := d.PutUserPolicy(ctxT(t), account, name, "kms", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	shared.Jobs.SyncChanges(ctxT(t))
	if err := enc(delegating); err != nil {
		t.Fatalf("with an identity policy and the root statement: %v", err)
	}
	_, otherARN := newUser(t, account)
	p := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + otherARN + `"},"Action":"kms:*","Resource":"*"}]}`
	closed := *createKey(t, admin, &kms.CreateKeyInput{Policy: &p, BypassPolicyLockoutSafetyCheck: true}).KeyId
	wantAPIError(t, enc(closed), "AccessDeniedException", denyMsg(userARN, "kms:Encrypt", closed, "resource"))

	g, err := admin.CreateGrant(ctxT(t), &kms.CreateGrantInput{KeyId: &delegating, GranteePrincipal: &userARN,
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := admin.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &delegating, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: ct.CiphertextBlob, GrantTokens: []string{*g.GrantToken}}); err != nil {
		t.Fatalf("decrypt through the grant: %v", err)
	}
	if err := d.PutUserPolicy(ctxT(t), account, name, "deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	shared.Jobs.SyncChanges(ctxT(t))
	_, err = user.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: ct.CiphertextBlob})
	wantAPIError(t, err, "AccessDeniedException",
		"User: "+userARN+" is not authorized to perform: kms:Decrypt on resource: "+keyARN(delegating)+" with an explicit deny in an identity-based policy")
}
