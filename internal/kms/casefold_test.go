package kms_test

import (
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/wire"
)

// TestPolicyConditionCollidingContext: kms:EncryptionContext:dept in a key
// policy is satisfied by "Dept" too (condition key names are
// case-insensitive), but a context holding both never satisfies an Allow
// and always satisfies a Deny.
func TestPolicyConditionCollidingContext(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	p := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + gBob.ARN + `"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:EncryptionContext:dept":"finance"}}},
	 {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:class":"secret"}}}]}`
	id := e.Key(p)
	wantCode(t, encrypt(e.Node, e.As(gBob), id, map[string]string{"Dept": "finance"}), "")
	collide := map[string]string{"dept": "hr", "Dept": "finance"}
	ct, err := e.Node.Encrypt(e.As(gRoot), &wire.EncryptInput{KeyID: &id, Plaintext: []byte("x"), EncryptionContext: collide})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		wantCode(t, encrypt(e.Node, e.As(gBob), id, collide), awserr.AccessDenied)
		_, err := e.Node.Decrypt(e.As(gBob), &wire.DecryptInput{CiphertextBlob: ct.CiphertextBlob, EncryptionContext: collide})
		wantCode(t, err, awserr.AccessDenied)
		// The Deny holds whichever of class/Class a map yields first.
		wantCode(t, encrypt(e.Node, e.As(gRoot), id, map[string]string{"class": "secret", "Class": "public"}), awserr.AccessDenied)
		wantCode(t, encrypt(e.Node, e.As(gRoot), id, map[string]string{"Class": "secret", "class": "public"}), awserr.AccessDenied)
	}
	wantCode(t, encrypt(e.Node, e.As(gRoot), id, map[string]string{"Class": "public"}), "")
}

// TestTagConditionCollidingKeys: tag keys are case-sensitive but condition
// key names are not. aws:RequestTag/dept for a request tagging both "dept"
// and "Dept", and aws:ResourceTag/dept for a key tagged with both, never
// satisfy an Allow and always satisfy a Deny, whatever their order.
func TestTagConditionCollidingKeys(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	p := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + gBob.ARN + `"},"Action":"kms:Encrypt","Resource":"*",
	  "Condition":{"StringEquals":{"aws:ResourceTag/dept":"finance"}}},
	 {"Effect":"Deny","Principal":"*","Action":"kms:TagResource","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/dept":"secret"}}}]}`
	id := e.Key(p)
	tag := func(pairs ...string) error {
		var tags []wire.Tag
		for i := 0; i < len(pairs); i += 2 {
			tags = append(tags, wire.Tag{TagKey: sp(pairs[i]), TagValue: sp(pairs[i+1])})
		}
		_, err := e.Node.TagResource(e.As(gRoot), &wire.TagResourceInput{KeyID: &id, Tags: tags})
		return err
	}
	wantCode(t, tag("dept", "secret", "Dept", "public"), awserr.AccessDenied)
	wantCode(t, tag("Dept", "public", "dept", "secret"), awserr.AccessDenied)
	wantCode(t, tag("DEPT", "secret"), awserr.AccessDenied)
	wantCode(t, tag("Dept", "finance"), "")
	wantCode(t, encrypt(e.Node, e.As(gBob), id, nil), "")
	wantCode(t, tag("dept", "hr"), "")
	for i := 0; i < 20; i++ {
		wantCode(t, encrypt(e.Node, e.As(gBob), id, nil), awserr.AccessDenied)
	}
}
