package security

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestGuardrailConditionKeysAlwaysPresent: AWS puts aws:ViaAWSService and
// aws:PrincipalIsAWSService in the context of every signed request, and
// aws:MultiFactorAuthPresent in that of every request signed with
// temporary credentials (false without MFA). Guardrails are written on
// that: "Deny kms:Decrypt if Bool aws:ViaAWSService false" (decrypt only
// through a service), "Deny if Bool aws:PrincipalIsAWSService false",
// "Deny if Bool aws:MultiFactorAuthPresent false". Before the fix Trent
// left the keys out, a Bool condition on a missing key is false, and every
// such Deny was skipped: the guardrail failed open.
func TestGuardrailConditionKeysAlwaysPresent(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	guard := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"},` +
		`{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"aws:ViaAWSService":"false"}}},` +
		`{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*","Condition":{"Bool":{"aws:PrincipalIsAWSService":"false"}}},` +
		`{"Effect":"Deny","Action":"kms:DescribeKey","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	identCreateUser(t, s, Admin, "alice", "")
	s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "alice", "PolicyName", "guard", "PolicyDocument", guard)
	alice := identAccessKey(t, s, Admin, "alice")
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "ops", "AssumeRolePolicyDocument", identTrustAccount)
	s.MustQuery(t, Admin, "iam", "Action", "PutRolePolicy", "RoleName", "ops", "PolicyName", "guard", "PolicyDocument", guard)
	session := rtAssume(t, s, Admin, "arn:aws:iam::"+account+":role/ops", "guarded")

	key := s.CreateKey(t, Admin, nil)
	var enc struct{ CiphertextBlob []byte }
	if r := s.Call(t, Admin, "Encrypt", map[string]any{"KeyId": key, "Plaintext": []byte("x")}); r.Status == http.StatusOK {
		json.Unmarshal(r.Body, &enc)
	} else {
		t.Fatalf("Encrypt: %d %s", r.Status, r.Message)
	}
	for _, who := range []struct {
		name string
		c    Creds
	}{{"user", alice}, {"role session", session}} {
		t.Run("fail/"+who.name+" Decrypt directly", func(t *testing.T) {
			r := s.Call(t, who.c, "Decrypt", map[string]any{"CiphertextBlob": enc.CiphertextBlob})
			if r.ErrorType != "AccessDeniedException" {
				t.Fatalf("got %d %s %s", r.Status, r.ErrorType, r.Message)
			}
		})
		t.Run("fail/"+who.name+" Encrypt as a non-service principal", func(t *testing.T) {
			r := s.Call(t, who.c, "Encrypt", map[string]any{"KeyId": key, "Plaintext": []byte("x")})
			if r.ErrorType != "AccessDeniedException" {
				t.Fatalf("got %d %s %s", r.Status, r.ErrorType, r.Message)
			}
		})
		t.Run("ok/"+who.name+" GenerateDataKey", func(t *testing.T) {
			if r := s.Call(t, who.c, "GenerateDataKey", map[string]any{"KeyId": key, "KeySpec": "AES_256"}); r.Status != http.StatusOK {
				t.Fatalf("got %d %s %s", r.Status, r.ErrorType, r.Message)
			}
		})
	}
	// aws:MultiFactorAuthPresent is false for a session without MFA and
	// absent for a long-term access key, as in AWS.
	body := map[string]any{"KeyId": key}
	if r := s.Call(t, session, "DescribeKey", body); r.ErrorType != "AccessDeniedException" {
		t.Fatalf("session DescribeKey without MFA: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	if r := s.Call(t, alice, "DescribeKey", body); r.Status != http.StatusOK {
		t.Fatalf("user DescribeKey (the key is absent for long-term keys): %d %s %s", r.Status, r.ErrorType, r.Message)
	}
}

// TestIAMActionsSeeRequestConditions: IAM and STS actions are authorized
// on identity policies with the request's global condition keys, as KMS
// actions are. Before the fix they were evaluated without aws:SecureTransport,
// aws:SourceIp or aws:CurrentTime, so the standard guardrails ("Deny * if
// Bool aws:SecureTransport false", "Deny * after an expiry date") held for
// KMS and failed open for IAM: a user the TLS guardrail shut out of KMS
// still created users and access keys over plain HTTP, and a contractor
// past its expiry date still administered IAM.
func TestIAMActionsSeeRequestConditions(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "ops", "AssumeRolePolicyDocument", identTrustAccount)
	for _, c := range []struct{ name, deny string }{
		{"tls-only", `{"Bool":{"aws:SecureTransport":"false"}}`},
		{"expired", `{"DateGreaterThan":{"aws:CurrentTime":"2001-01-01T00:00:00Z"}}`},
		{"bad-range", `{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}`},
	} {
		identCreateUser(t, s, Admin, c.name, "")
		s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", c.name, "PolicyName", "p", "PolicyDocument",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},`+
				`{"Effect":"Deny","Action":"*","Resource":"*","Condition":`+c.deny+`}]}`)
		creds := identAccessKey(t, s, Admin, c.name)
		t.Run(c.name, func(t *testing.T) {
			if r := s.Call(t, creds, "ListKeys", nil); r.ErrorType != "AccessDeniedException" {
				t.Fatalf("KMS ListKeys: %d %s", r.Status, r.ErrorType)
			}
			for _, kv := range [][]string{
				{"iam", "Action", "CreateUser", "UserName", c.name + "-sneaky"},
				{"iam", "Action", "CreateAccessKey", "UserName", c.name},
				{"iam", "Action", "ListUsers"},
				{"sts", "Action", "AssumeRole", "RoleArn", "arn:aws:iam::" + account + ":role/ops", "RoleSessionName", "sneaky"},
			} {
				status, body := s.Query(t, creds, kv[0], kv[1:]...)
				if e := identParseError(t, body); status != http.StatusForbidden || e.Code != "AccessDenied" {
					t.Errorf("%s %s: %d %s, want 403 AccessDenied", kv[0], kv[2], status, e.Code)
				}
			}
		})
	}
}
