package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// lockoutPolicy allows a user other than the caller (the account root) and
// nothing else: installing it would lock the caller out of the key. The
// user must exist: a key policy may only name principals that do.
func lockoutPolicy(t testing.TB) string {
	_, alice := newUser(t, account)
	return `{"Version":"2012-10-17","Statement":[{"Sid":"alice","Effect":"Allow",` +
		`"Principal":{"AWS":"` + alice + `"},"Action":"kms:*","Resource":"*"}]}`
}

const msgLockout = "The new key policy will not allow you to update the key policy in the future."

// TestPolicyLockoutSafetyCheck checks CreateKey's and PutKeyPolicy's
// lockout safety check and its bypass.
func TestPolicyLockoutSafetyCheck(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	t.Run("fail/CreateKey with a lockout policy", func(t *testing.T) {
		_, err := c.CreateKey(ctxT(t), &kms.CreateKeyInput{Policy: aws.String(lockoutPolicy(t))})
		wantAPIError(t, err, "MalformedPolicyDocumentException", msgLockout)
	})
	t.Run("fail/PutKeyPolicy with a lockout policy", func(t *testing.T) {
		m := createKey(t, c, nil)
		_, err := c.PutKeyPolicy(ctxT(t), &kms.PutKeyPolicyInput{KeyId: m.KeyId, Policy: aws.String(lockoutPolicy(t))})
		wantAPIError(t, err, "MalformedPolicyDocumentException", msgLockout)
	})
	t.Run("ok/CreateKey with the check bypassed", func(t *testing.T) {
		m := createKey(t, c, &kms.CreateKeyInput{Policy: aws.String(lockoutPolicy(t)), BypassPolicyLockoutSafetyCheck: true})
		if m.KeyId == nil {
			t.Fatal("no key")
		}
	})
}
