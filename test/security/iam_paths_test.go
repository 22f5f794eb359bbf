package security

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// This file attacks IAM paths (issue 16, item 1): the path is part of a
// user's or role's ARN, so a Deny on a path must hold for every IAM action
// on the principals under it, and the caller's ARN (GetCallerIdentity,
// aws:PrincipalArn, the audit record) must carry it.

// identError is an IAM/STS query-API ErrorResponse.
type identError struct {
	Code    string `xml:"Error>Code"`
	Message string `xml:"Error>Message"`
}

func identParseError(t testing.TB, body []byte) identError {
	t.Helper()
	var e identError
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an ErrorResponse: %s", body)
	}
	return e
}

// identCreateUser creates a user with path as c and returns its unique ID.
func identCreateUser(t testing.TB, s *Server, c Creds, name, path string) string {
	t.Helper()
	kv := []string{"Action", "CreateUser", "UserName", name}
	if path != "" {
		kv = append(kv, "Path", path)
	}
	var out struct {
		ID  string `xml:"CreateUserResult>User>UserId"`
		ARN string `xml:"CreateUserResult>User>Arn"`
	}
	if err := xml.Unmarshal(s.MustQuery(t, c, "iam", kv...), &out); err != nil || out.ID == "" {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	return out.ID
}

// identAccessKey creates an access key for user as c.
func identAccessKey(t testing.TB, s *Server, c Creds, user string) Creds {
	t.Helper()
	var out struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	if err := xml.Unmarshal(s.MustQuery(t, c, "iam", "Action", "CreateAccessKey", "UserName", user), &out); err != nil || out.ID == "" {
		t.Fatalf("CreateAccessKey %s: %v", user, err)
	}
	return Creds{AKID: out.ID, Secret: out.Secret}
}

// identAccessKeyIDs lists the access key IDs of user, as the admin.
func identAccessKeyIDs(t testing.TB, s *Server, user string) []string {
	t.Helper()
	var out struct {
		IDs []string `xml:"ListAccessKeysResult>AccessKeyMetadata>member>AccessKeyId"`
	}
	if err := xml.Unmarshal(s.MustQuery(t, Admin, "iam", "Action", "ListAccessKeys", "UserName", user), &out); err != nil {
		t.Fatal(err)
	}
	return out.IDs
}

const (
	identTrustAccount = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + account + `"},"Action":"sts:AssumeRole"}]}`
	identAllowAll     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
)

// TestIAMPathScopedDeny: a helpdesk user allowed iam:* except on
// user/admins/* and role/admins/* cannot create an access key for
// /admins/boss nor put an Action:* Resource:* policy on a role under
// /admins/ (both would make it an administrator), but can for principals
// outside /admins/.
func TestIAMPathScopedDeny(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	identCreateUser(t, s, Admin, "boss", "/admins/")
	identCreateUser(t, s, Admin, "intern", "/staff/")
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "breakglass", "Path", "/admins/", "AssumeRolePolicyDocument", identTrustAccount)
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "app", "Path", "/apps/", "AssumeRolePolicyDocument", identTrustAccount)
	identCreateUser(t, s, Admin, "helpdesk", "/it/")
	s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "helpdesk", "PolicyName", "helpdesk", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},`+
			`{"Effect":"Deny","Action":"iam:*","Resource":["arn:aws:iam::`+account+`:user/admins/*","arn:aws:iam::`+account+`:role/admins/*"]}]}`)
	helpdesk := identAccessKey(t, s, Admin, "helpdesk")
	const who = "arn:aws:iam::" + account + ":user/it/helpdesk"

	t.Run("fail/CreateAccessKey for /admins/boss", func(t *testing.T) {
		status, body := s.Query(t, helpdesk, "iam", "Action", "CreateAccessKey", "UserName", "boss")
		e := identParseError(t, body)
		want := "User: " + who + " is not authorized to perform: iam:CreateAccessKey on resource: arn:aws:iam::" + account + ":user/admins/boss"
		if status != http.StatusForbidden || e.Code != "AccessDenied" || !strings.HasPrefix(e.Message, want) {
			t.Fatalf("got %d %s %q, want 403 AccessDenied %q", status, e.Code, e.Message, want)
		}
		if ids := identAccessKeyIDs(t, s, "boss"); len(ids) != 0 {
			t.Fatalf("boss has access keys %v", ids)
		}
	})
	t.Run("fail/PutRolePolicy on a role under /admins/", func(t *testing.T) {
		status, body := s.Query(t, helpdesk, "iam", "Action", "PutRolePolicy", "RoleName", "breakglass", "PolicyName", "pwn", "PolicyDocument", identAllowAll)
		e := identParseError(t, body)
		want := "User: " + who + " is not authorized to perform: iam:PutRolePolicy on resource: arn:aws:iam::" + account + ":role/admins/breakglass"
		if status != http.StatusForbidden || e.Code != "AccessDenied" || !strings.HasPrefix(e.Message, want) {
			t.Fatalf("got %d %s %q, want 403 AccessDenied %q", status, e.Code, e.Message, want)
		}
		var out struct {
			Names []string `xml:"ListRolePoliciesResult>PolicyNames>member"`
		}
		xml.Unmarshal(s.MustQuery(t, Admin, "iam", "Action", "ListRolePolicies", "RoleName", "breakglass"), &out)
		if len(out.Names) != 0 {
			t.Fatalf("breakglass has policies %v", out.Names)
		}
	})
	t.Run("fail/UpdateAssumeRolePolicy and CreateUser under /admins/", func(t *testing.T) {
		trustMe := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + who + `"},"Action":"sts:AssumeRole"}]}`
		if status, body := s.Query(t, helpdesk, "iam", "Action", "UpdateAssumeRolePolicy", "RoleName", "breakglass", "PolicyDocument", trustMe); status != http.StatusForbidden {
			t.Fatalf("UpdateAssumeRolePolicy: %d %s", status, body)
		}
		if status, body := s.Query(t, helpdesk, "iam", "Action", "CreateUser", "UserName", "boss2", "Path", "/admins/"); status != http.StatusForbidden {
			t.Fatalf("CreateUser: %d %s", status, body)
		}
	})
	t.Run("ok/outside /admins/", func(t *testing.T) {
		if k := identAccessKey(t, s, helpdesk, "intern"); k.AKID == "" {
			t.Fatal("no key")
		}
		s.MustQuery(t, helpdesk, "iam", "Action", "PutRolePolicy", "RoleName", "app", "PolicyName", "p", "PolicyDocument", identAllowAll)
	})
}

// TestCallerIdentityHasPath: GetCallerIdentity of a user with a path
// returns the same ARN as GetUser, path included.
func TestCallerIdentityHasPath(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	id := identCreateUser(t, s, Admin, "contractor1", "/contractors/")
	c := identAccessKey(t, s, Admin, "contractor1")
	var gci struct {
		Arn     string `xml:"GetCallerIdentityResult>Arn"`
		UserID  string `xml:"GetCallerIdentityResult>UserId"`
		Account string `xml:"GetCallerIdentityResult>Account"`
	}
	if err := xml.Unmarshal(s.MustQuery(t, c, "sts", "Action", "GetCallerIdentity"), &gci); err != nil {
		t.Fatal(err)
	}
	var gu struct {
		Arn string `xml:"GetUserResult>User>Arn"`
	}
	if err := xml.Unmarshal(s.MustQuery(t, Admin, "iam", "Action", "GetUser", "UserName", "contractor1"), &gu); err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:iam::" + account + ":user/contractors/contractor1"
	if gci.Arn != want || gu.Arn != want || gci.UserID != id || gci.Account != account {
		t.Fatalf("GetCallerIdentity %+v, GetUser %q; want %s (%s)", gci, gu.Arn, want, id)
	}
}

// TestPrincipalArnDenyWithPath: a key policy denying aws:PrincipalArn
// user/contractors/* stops Encrypt by a user under /contractors/ that an
// identity policy allows, while another user with the same identity policy
// may encrypt; the audit record names the contractor by its full ARN.
func TestPrincipalArnDenyWithPath(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	allowKMS := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	users := map[string]Creds{}
	for name, path := range map[string]string{"contractor1": "/contractors/", "employee1": "/staff/"} {
		identCreateUser(t, s, Admin, name, path)
		s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", name, "PolicyName", "kms", "PolicyDocument", allowKMS)
		users[name] = identAccessKey(t, s, Admin, name)
	}
	policy := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Sid":"no contractors","Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*",` +
		`"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::` + account + `:user/contractors/*"}}}]}`
	key := s.CreateKey(t, Admin, map[string]any{"Policy": policy})
	enc := func(c Creds) Response {
		return s.Call(t, c, "Encrypt", map[string]any{"KeyId": key, "Plaintext": "aGVsbG8="})
	}
	const contractorARN = "arn:aws:iam::" + account + ":user/contractors/contractor1"
	r := enc(users["contractor1"])
	want := "User: " + contractorARN + " is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:" + region + ":" + account + ":key/" + key + " with an explicit deny in a resource-based policy"
	if r.Status != http.StatusBadRequest || r.ErrorType != "AccessDeniedException" || r.Message != want {
		t.Fatalf("contractor Encrypt: %d %s %q, want AccessDeniedException %q", r.Status, r.ErrorType, r.Message, want)
	}
	if r := enc(users["employee1"]); r.Status != http.StatusOK {
		t.Fatalf("employee Encrypt: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	out, err := Trent(t, nil, "audit", "list", "--dir", filepath.Join(s.DataDir, "audit"), "--event", "Encrypt")
	if err != nil {
		t.Fatalf("trent audit list: %v\n%s", err, out)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			UserIdentity struct {
				ARN         string `json:"arn"`
				AccessKeyID string `json:"accessKeyId"`
			} `json:"userIdentity"`
			ErrorCode string `json:"errorCode"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.UserIdentity.AccessKeyID != users["contractor1"].AKID {
			continue
		}
		found = true
		if ev.UserIdentity.ARN != contractorARN || ev.ErrorCode != "AccessDenied" && ev.ErrorCode != "AccessDeniedException" {
			t.Fatalf("audit record of the denied Encrypt: %s", line)
		}
	}
	if !found {
		t.Fatalf("no audit record of the contractor's Encrypt in:\n%s", out)
	}
}

// TestRoleSessionPaths: a session of a role under a path has an ARN
// without the path (assumed-role/ROLE/SESSION), as in AWS, but its
// aws:PrincipalArn is the role's ARN with the path, so a key-policy Deny on
// role/untrusted/* stops it; the audit record's sessionIssuer names the
// role with its path.
func TestRoleSessionPaths(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	const roleARN = "arn:aws:iam::" + account + ":role/untrusted/batch"
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "batch", "Path", "/untrusted/", "AssumeRolePolicyDocument", identTrustAccount)
	s.MustQuery(t, Admin, "iam", "Action", "PutRolePolicy", "RoleName", "batch", "PolicyName", "kms", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	var ar struct {
		AKID   string `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
		Secret string `xml:"AssumeRoleResult>Credentials>SecretAccessKey"`
		Token  string `xml:"AssumeRoleResult>Credentials>SessionToken"`
		ARN    string `xml:"AssumeRoleResult>AssumedRoleUser>Arn"`
	}
	if err := xml.Unmarshal(s.MustQuery(t, Admin, "sts", "Action", "AssumeRole", "RoleArn", roleARN, "RoleSessionName", "job"), &ar); err != nil {
		t.Fatal(err)
	}
	sess := Creds{AKID: ar.AKID, Secret: ar.Secret, Token: ar.Token}
	const sessionARN = "arn:aws:sts::" + account + ":assumed-role/batch/job"
	var gci struct {
		Arn string `xml:"GetCallerIdentityResult>Arn"`
	}
	xml.Unmarshal(s.MustQuery(t, sess, "sts", "Action", "GetCallerIdentity"), &gci)
	if ar.ARN != sessionARN || gci.Arn != sessionARN {
		t.Fatalf("session ARN: AssumeRole %q, GetCallerIdentity %q, want %q", ar.ARN, gci.Arn, sessionARN)
	}
	policy := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*",` +
		`"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::` + account + `:role/untrusted/*"}}}]}`
	key := s.CreateKey(t, Admin, map[string]any{"Policy": policy})
	r := s.Call(t, sess, "Encrypt", map[string]any{"KeyId": key, "Plaintext": "aGVsbG8="})
	if r.Status != http.StatusOK {
		t.Fatalf("session Encrypt: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	var ct struct{ CiphertextBlob string }
	json.Unmarshal(r.Body, &ct)
	r = s.Call(t, sess, "Decrypt", map[string]any{"CiphertextBlob": ct.CiphertextBlob})
	if r.Status != http.StatusBadRequest || r.ErrorType != "AccessDeniedException" || !strings.HasSuffix(r.Message, "with an explicit deny in a resource-based policy") {
		t.Fatalf("session Decrypt under the path Deny: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	out, err := Trent(t, nil, "audit", "list", "--dir", filepath.Join(s.DataDir, "audit"), "--event", "Encrypt")
	if err != nil {
		t.Fatalf("trent audit list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			UserIdentity struct {
				ARN            string `json:"arn"`
				AccessKeyID    string `json:"accessKeyId"`
				SessionContext struct {
					SessionIssuer struct {
						ARN string `json:"arn"`
					} `json:"sessionIssuer"`
				} `json:"sessionContext"`
			} `json:"userIdentity"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.UserIdentity.AccessKeyID != sess.AKID {
			continue
		}
		if ev.UserIdentity.ARN != sessionARN || ev.UserIdentity.SessionContext.SessionIssuer.ARN != roleARN {
			t.Fatalf("audit record of the session's Encrypt: %s", line)
		}
		return
	}
	t.Fatalf("no audit record of the session's Encrypt in:\n%s", out)
}
