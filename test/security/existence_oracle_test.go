package security

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCrossAccountExistenceOracles: another account must not tell a key or
// alias of account 1 that exists from one that does not (docs/principals.md:
// one AccessDeniedException "whether the key (or alias) exists or not ...
// and before any check that would describe the key"). Alias names are
// guessable, so such an oracle enumerates account 1's aliases. Before the
// fix each call below answered an existing key or alias with its own error
// (InvalidGrantTokenException, InvalidCiphertextException,
// ValidationException) and a missing one with AccessDeniedException.
func TestCrossAccountExistenceOracles(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	sym := s.CreateKey(t, Admin, nil)
	rsa := s.CreateKey(t, Admin, map[string]any{"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"})
	for name, id := range map[string]string{"alias/rt-sym": sym, "alias/rt-rsa": rsa} {
		isoMustCall(t, s, Admin, "CreateAlias", map[string]any{"AliasName": name, "TargetKeyId": id}, nil)
	}
	other := isoCreateAccount(t, s, isoOther)
	WaitFor(t, 10*time.Second, func() error {
		if r := s.Call(t, other, "ListKeys", nil); r.Status != http.StatusOK {
			return fmt.Errorf("ListKeys: %d %s", r.Status, r.Message)
		}
		return nil
	})
	own := s.CreateKey(t, other, nil)
	var enc struct{ CiphertextBlob []byte }
	isoMustCall(t, s, other, "Encrypt", map[string]any{"KeyId": own, "Plaintext": []byte("hello")}, &enc)

	aliasARN := func(n string) string { return "arn:aws:kms:" + region + ":" + account + ":" + n }
	keyARN := func(id string) string { return "arn:aws:kms:" + region + ":" + account + ":key/" + id }
	const missingKey = "00000000-0000-4000-8000-000000000000"
	refs := []struct{ name, ref, missing string }{
		{"alias of a symmetric key", aliasARN("alias/rt-sym"), aliasARN("alias/rt-missing")},
		{"alias of an RSA key", aliasARN("alias/rt-rsa"), aliasARN("alias/rt-missing")},
		{"symmetric key ARN", keyARN(sym), keyARN(missingKey)},
		{"RSA key ARN", keyARN(rsa), keyARN(missingKey)},
	}
	bad := []string{"garbage"}
	calls := []struct {
		name, op string
		body     func(ref string) map[string]any
		keyOnly  bool
	}{
		{"DescribeKey with a bad grant token", "DescribeKey", func(r string) map[string]any {
			return map[string]any{"KeyId": r, "GrantTokens": bad}
		}, false},
		{"Encrypt with a bad grant token", "Encrypt", func(r string) map[string]any {
			return map[string]any{"KeyId": r, "Plaintext": []byte("x"), "GrantTokens": bad}
		}, false},
		{"GenerateDataKey with a bad grant token", "GenerateDataKey", func(r string) map[string]any {
			return map[string]any{"KeyId": r, "KeySpec": "AES_256", "GrantTokens": bad}
		}, false},
		{"CreateGrant with a bad grant token", "CreateGrant", func(r string) map[string]any {
			return map[string]any{"KeyId": r, "GranteePrincipal": "arn:aws:iam::" + isoOther + ":root", "Operations": []string{"Decrypt"}, "GrantTokens": bad}
		}, true},
		{"ReEncrypt of garbage to it", "ReEncrypt", func(r string) map[string]any {
			return map[string]any{"DestinationKeyId": r, "CiphertextBlob": []byte("garbage-garbage-garbage")}
		}, false},
		{"ReEncrypt to it without SourceKeyId", "ReEncrypt", func(r string) map[string]any {
			return map[string]any{"DestinationKeyId": r, "CiphertextBlob": enc.CiphertextBlob, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
		}, false},
		{"ReEncrypt from it of another key's ciphertext", "ReEncrypt", func(r string) map[string]any {
			return map[string]any{"SourceKeyId": r, "DestinationKeyId": own, "CiphertextBlob": enc.CiphertextBlob}
		}, false},
		{"Decrypt with it of another key's ciphertext and a context", "Decrypt", func(r string) map[string]any {
			return map[string]any{"KeyId": r, "CiphertextBlob": enc.CiphertextBlob, "EncryptionContext": map[string]string{"a": "b"}}
		}, false},
	}
	for _, c := range calls {
		for _, ref := range refs {
			if c.keyOnly && strings.Contains(ref.ref, ":alias/") {
				continue
			}
			t.Run(c.name+"/"+ref.name, func(t *testing.T) {
				a := s.Call(t, other, c.op, c.body(ref.ref))
				b := s.Call(t, other, c.op, c.body(ref.missing))
				if a.Status != b.Status || a.ErrorType != b.ErrorType || a.Message != b.Message {
					t.Fatalf("an existing and a missing key answer differently:\n  exists:  %d %s %s\n  missing: %d %s %s",
						a.Status, a.ErrorType, a.Message, b.Status, b.ErrorType, b.Message)
				}
				if a.ErrorType != "AccessDeniedException" {
					t.Fatalf("got %d %s %s, want AccessDeniedException", a.Status, a.ErrorType, a.Message)
				}
			})
		}
	}

	// Once account 1's key policy lets account 2 use the key, account 2
	// may know it exists: a bad grant token is then reported as such.
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + isoOther + `:root"},"Action":["kms:Encrypt","kms:DescribeKey"],"Resource":"*"}]}`
	isoMustCall(t, s, Admin, "PutKeyPolicy", map[string]any{"KeyId": sym, "PolicyName": "default", "Policy": pol}, nil)
	WaitFor(t, 10*time.Second, func() error {
		if r := s.Call(t, other, "DescribeKey", map[string]any{"KeyId": keyARN(sym)}); r.Status != http.StatusOK {
			return fmt.Errorf("DescribeKey: %d %s", r.Status, r.Message)
		}
		return nil
	})
	r := s.Call(t, other, "Encrypt", map[string]any{"KeyId": keyARN(sym), "Plaintext": []byte("x"), "GrantTokens": bad})
	if r.ErrorType != "InvalidGrantTokenException" {
		t.Fatalf("Encrypt allowed by the key policy, with a bad grant token: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	var out struct{ KeyId string }
	isoMustCall(t, s, other, "Encrypt", map[string]any{"KeyId": keyARN(sym), "Plaintext": []byte("x")}, &out)
	if out.KeyId != keyARN(sym) {
		t.Fatalf("Encrypt: %+v", out)
	}
}
