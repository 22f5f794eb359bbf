package grant_test

import (
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/wire"
)

// TestGrantConstraintCollidingContext: a grant constrained to
// {dept: finance} never allows Encrypt or Decrypt with a context that also
// holds "Dept" (or "dept") under another case, on any try; a context whose
// only key differs in case is allowed, as AWS documents.
func TestGrantConstraintCollidingContext(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt", "Decrypt"},
		Constraints: &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "finance"}}})
	for _, ec := range []map[string]string{
		{"dept": "hr", "Dept": "finance"},
		{"Dept": "hr", "dept": "finance"},
		{"dept": "finance", "DEPT": "finance"},
	} {
		ct, err := e.Node.Encrypt(e.As(gRoot), &wire.EncryptInput{KeyID: &id, Plaintext: []byte("x"), EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			wantCode(t, encrypt(e.Node, e.As(gBob), id, ec), awserr.AccessDenied)
			_, err := e.Node.Decrypt(e.As(gBob), &wire.DecryptInput{CiphertextBlob: ct.CiphertextBlob, EncryptionContext: ec})
			wantCode(t, err, awserr.AccessDenied)
		}
	}
	wantCode(t, encrypt(e.Node, e.As(gBob), id, map[string]string{"Dept": "finance", "app": "x"}), "")
}
