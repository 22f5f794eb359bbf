package security

import (
	"encoding/xml"
	"net/http"
	"testing"
	"time"
)

// rtAssume assumes role (an ARN) as c and returns the session's credentials.
func rtAssume(t *testing.T, s *Server, c Creds, role, session string) Creds {
	t.Helper()
	var out struct {
		AKID   string `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
		Secret string `xml:"AssumeRoleResult>Credentials>SecretAccessKey"`
		Token  string `xml:"AssumeRoleResult>Credentials>SessionToken"`
	}
	body := s.MustQuery(t, c, "sts", "Action", "AssumeRole", "RoleArn", role, "RoleSessionName", session)
	if err := xml.Unmarshal(body, &out); err != nil || out.AKID == "" {
		t.Fatalf("AssumeRole: %s", body)
	}
	return Creds{AKID: out.AKID, Secret: out.Secret, Token: out.Token}
}

// TestLeakedSessionRevocation: AWS's way to cut off a leaked role session
// ("Revoking IAM role temporary security credentials") is an inline policy
// on the role denying everything to sessions issued before now:
// DateLessThan aws:TokenIssueTime. Before the fix Trent did not know
// aws:TokenIssueTime, so the Deny never applied and a leaked session kept
// every permission (KMS, through a key policy naming the role too, and
// IAM) until it expired, up to 12 hours later. Sessions issued after the
// revocation keep working.
func TestLeakedSessionRevocation(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	role := "arn:aws:iam::" + account + ":role/ops"
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "ops", "AssumeRolePolicyDocument", identTrustAccount)
	s.MustQuery(t, Admin, "iam", "Action", "PutRolePolicy", "RoleName", "ops", "PolicyName", "work", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","iam:ListUsers","sts:AssumeRole"],"Resource":"*"}]}`)
	key := s.CreateKey(t, Admin, map[string]any{"Policy": `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + role + `"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`})
	leaked := rtAssume(t, s, Admin, role, "leaked")
	if r := s.Call(t, leaked, "Encrypt", map[string]any{"KeyId": key, "Plaintext": []byte("x")}); r.Status != http.StatusOK {
		t.Fatalf("Encrypt before the revocation: %d %s %s", r.Status, r.ErrorType, r.Message)
	}

	time.Sleep(1100 * time.Millisecond) // the revocation time is after the session's issue time, to the second
	now := time.Now().UTC().Format(time.RFC3339)
	s.MustQuery(t, Admin, "iam", "Action", "PutRolePolicy", "RoleName", "ops", "PolicyName", "AWSRevokeOlderSessions", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"`+now+`"}}}]}`)
	time.Sleep(1100 * time.Millisecond)
	fresh := rtAssume(t, s, Admin, role, "fresh")

	for _, c := range []struct {
		op   string
		body any
	}{
		{"Encrypt", map[string]any{"KeyId": key, "Plaintext": []byte("x")}},
		{"ListKeys", nil},
	} {
		t.Run("fail/leaked session "+c.op, func(t *testing.T) {
			r := s.Call(t, leaked, c.op, c.body)
			if r.ErrorType != "AccessDeniedException" {
				t.Fatalf("got %d %s %s, want AccessDeniedException", r.Status, r.ErrorType, r.Message)
			}
		})
		t.Run("ok/fresh session "+c.op, func(t *testing.T) {
			if r := s.Call(t, fresh, c.op, c.body); r.Status != http.StatusOK {
				t.Fatalf("got %d %s %s", r.Status, r.ErrorType, r.Message)
			}
		})
	}
	t.Run("fail/leaked session iam:ListUsers", func(t *testing.T) {
		status, body := s.Query(t, leaked, "iam", "Action", "ListUsers")
		if e := identParseError(t, body); status != http.StatusForbidden || e.Code != "AccessDenied" {
			t.Fatalf("got %d %s", status, body)
		}
	})
	t.Run("fail/leaked session assumes the role again", func(t *testing.T) {
		// Role chaining: the trust policy (the account) lets a session
		// of the role assume it, but the session's own policies deny
		// sts:AssumeRole now.
		status, body := s.Query(t, leaked, "sts", "Action", "AssumeRole", "RoleArn", role, "RoleSessionName", "again")
		if status == http.StatusOK {
			t.Fatalf("the revoked session got a new one: %s", body)
		}
	})
}
