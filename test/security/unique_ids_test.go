package security

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// This file attacks principals bound to unique IDs (issue 16, item 2): a
// key policy, a grant and a role trust policy name the principal that
// existed when they were stored; a user deleted and re-created under the
// same name is a new principal and inherits none of the old one's access.

// identDeleteUser deletes a user and its access keys, as the admin.
func identDeleteUser(t testing.TB, s *Server, user string) {
	t.Helper()
	for _, id := range identAccessKeyIDs(t, s, user) {
		s.MustQuery(t, Admin, "iam", "Action", "DeleteAccessKey", "UserName", user, "AccessKeyId", id)
	}
	s.MustQuery(t, Admin, "iam", "Action", "DeleteUser", "UserName", user)
}

// TestRecreatedUserInheritsNothing: alice is named in a key policy, is the
// grantee and retiring principal of a grant and is trusted by a role.
// After alice is deleted and a new alice created, the new alice is refused
// by all three, and GetKeyPolicy, ListGrants and GetRole show the old
// alice's unique ID where her ARN was.
func TestRecreatedUserInheritsNothing(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	const aliceARN = "arn:aws:iam::" + account + ":user/alice"
	oldID := identCreateUser(t, s, Admin, "alice", "")
	oldAlice := identAccessKey(t, s, Admin, "alice")

	policy := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Sid":"alice","Effect":"Allow","Principal":{"AWS":"` + aliceARN + `"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`
	byPolicy := s.CreateKey(t, Admin, map[string]any{"Policy": policy})
	byGrant := s.CreateKey(t, Admin, nil)
	r := s.Call(t, Admin, "CreateGrant", map[string]any{"KeyId": byGrant, "GranteePrincipal": aliceARN, "RetiringPrincipal": aliceARN,
		"Operations": []string{"Encrypt", "Decrypt"}})
	if r.Status != http.StatusOK {
		t.Fatalf("CreateGrant: %d %s", r.Status, r.Body)
	}
	var grant struct{ GrantId, GrantToken string }
	json.Unmarshal(r.Body, &grant)
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"sts:AssumeRole"}]}`)
	roleARN := "arn:aws:iam::" + account + ":role/app"

	encrypt := func(c Creds, key string, tokens ...string) Response {
		body := map[string]any{"KeyId": key, "Plaintext": "aGVsbG8="}
		if len(tokens) > 0 {
			body["GrantTokens"] = tokens
		}
		return s.Call(t, c, "Encrypt", body)
	}
	assume := func(c Creds) int {
		status, _ := s.Query(t, c, "sts", "Action", "AssumeRole", "RoleArn", roleARN, "RoleSessionName", "s1")
		return status
	}
	for name, got := range map[string]int{
		"key policy": encrypt(oldAlice, byPolicy).Status, "grant": encrypt(oldAlice, byGrant).Status, "trust policy": assume(oldAlice),
	} {
		if got != http.StatusOK {
			t.Fatalf("the original alice through the %s: status %d", name, got)
		}
	}

	identDeleteUser(t, s, "alice")
	newID := identCreateUser(t, s, Admin, "alice", "")
	newAlice := identAccessKey(t, s, Admin, "alice")
	if newID == oldID {
		t.Fatal("the re-created user has the old unique ID")
	}

	t.Run("fail/key policy", func(t *testing.T) {
		r := encrypt(newAlice, byPolicy)
		if r.Status != http.StatusBadRequest || r.ErrorType != "AccessDeniedException" || !strings.HasPrefix(r.Message, "User: "+aliceARN+" is not authorized") {
			t.Fatalf("new alice Encrypt: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
	})
	t.Run("fail/grant, also with its token", func(t *testing.T) {
		for _, tokens := range [][]string{nil, {grant.GrantToken}} {
			if r := encrypt(newAlice, byGrant, tokens...); r.Status != http.StatusBadRequest || r.ErrorType != "AccessDeniedException" {
				t.Fatalf("new alice Encrypt through the grant (tokens %d): %d %s %s", len(tokens), r.Status, r.ErrorType, r.Message)
			}
		}
		r := s.Call(t, newAlice, "RetireGrant", map[string]any{"GrantToken": grant.GrantToken})
		if r.Status != http.StatusBadRequest || r.ErrorType != "AccessDeniedException" {
			t.Fatalf("new alice RetireGrant as the old retiring principal: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
	})
	t.Run("fail/trust policy", func(t *testing.T) {
		status, body := s.Query(t, newAlice, "sts", "Action", "AssumeRole", "RoleArn", roleARN, "RoleSessionName", "s2")
		if e := identParseError(t, body); status != http.StatusForbidden || e.Code != "AccessDenied" {
			t.Fatalf("new alice AssumeRole: %d %+v", status, e)
		}
	})
	t.Run("ok/GetKeyPolicy shows the old unique ID", func(t *testing.T) {
		r := s.Call(t, Admin, "GetKeyPolicy", map[string]any{"KeyId": byPolicy, "PolicyName": "default"})
		var out struct{ Policy string }
		json.Unmarshal(r.Body, &out)
		want := strings.Replace(policy, `"`+aliceARN+`"`, `"`+oldID+`"`, 1)
		if r.Status != http.StatusOK || out.Policy != want {
			t.Fatalf("GetKeyPolicy: %d\n%s\nwant\n%s", r.Status, out.Policy, want)
		}
		// Putting that document back is refused, as AWS refuses a policy
		// naming a unique ID.
		r = s.Call(t, Admin, "PutKeyPolicy", map[string]any{"KeyId": byPolicy, "PolicyName": "default", "Policy": out.Policy})
		if r.Status != http.StatusBadRequest || r.ErrorType != "MalformedPolicyDocumentException" {
			t.Fatalf("PutKeyPolicy with the unique ID: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
	})
	t.Run("ok/ListGrants shows the old unique ID", func(t *testing.T) {
		r := s.Call(t, Admin, "ListGrants", map[string]any{"KeyId": byGrant})
		var out struct {
			Grants []struct{ GrantId, GranteePrincipal, RetiringPrincipal string }
		}
		json.Unmarshal(r.Body, &out)
		if r.Status != http.StatusOK || len(out.Grants) != 1 || out.Grants[0].GranteePrincipal != oldID || out.Grants[0].RetiringPrincipal != oldID {
			t.Fatalf("ListGrants: %d %s", r.Status, r.Body)
		}
	})
	t.Run("ok/GetRole shows the old unique ID", func(t *testing.T) {
		var out struct {
			Doc string `xml:"GetRoleResult>Role>AssumeRolePolicyDocument"`
		}
		xml.Unmarshal(s.MustQuery(t, Admin, "iam", "Action", "GetRole", "RoleName", "app"), &out)
		doc, _ := url.QueryUnescape(out.Doc)
		if strings.Contains(doc, aliceARN) || !strings.Contains(doc, `"AWS":"`+oldID+`"`) {
			t.Fatalf("trust policy: %s", doc)
		}
	})
	t.Run("ok/re-stating the policy binds the new alice", func(t *testing.T) {
		r := s.Call(t, Admin, "PutKeyPolicy", map[string]any{"KeyId": byPolicy, "PolicyName": "default", "Policy": policy})
		if r.Status != http.StatusOK {
			t.Fatalf("PutKeyPolicy: %d %s", r.Status, r.Body)
		}
		if r := encrypt(newAlice, byPolicy); r.Status != http.StatusOK {
			t.Fatalf("new alice after PutKeyPolicy: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
	})
}

// TestPolicyNamingUnknownPrincipal: a key policy, a grant or a trust policy
// naming a user that does not exist is refused (so that creating the user
// later cannot pick up access granted in advance), with AWS's errors.
func TestPolicyNamingUnknownPrincipal(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	const ghost = "arn:aws:iam::" + account + ":user/ghost"
	policy := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"` + ghost + `"},"Action":"kms:*","Resource":"*"}]}`
	r := s.Call(t, Admin, "CreateKey", map[string]any{"Policy": policy})
	if r.Status != http.StatusBadRequest || r.ErrorType != "MalformedPolicyDocumentException" || r.Message != "Policy contains a statement with one or more invalid principals." {
		t.Fatalf("CreateKey: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	key := s.CreateKey(t, Admin, nil)
	r = s.Call(t, Admin, "CreateGrant", map[string]any{"KeyId": key, "GranteePrincipal": ghost, "Operations": []string{"Decrypt"}})
	if r.Status != http.StatusBadRequest || r.ErrorType != "InvalidArnException" || r.Message != "ARN does not refer to a valid principal: "+ghost {
		t.Fatalf("CreateGrant: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	status, body := s.Query(t, Admin, "iam", "Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+ghost+`"},"Action":"sts:AssumeRole"}]}`)
	if e := identParseError(t, body); status != http.StatusBadRequest || e.Code != "MalformedPolicyDocument" || e.Message != `Invalid principal in policy: "AWS":"`+ghost+`"` {
		t.Fatalf("CreateRole: %d %+v", status, e)
	}
	// Creating ghost now gives it nothing: no policy or grant was stored.
	identCreateUser(t, s, Admin, "ghost", "")
	c := identAccessKey(t, s, Admin, "ghost")
	r = s.Call(t, Admin, "Encrypt", map[string]any{"KeyId": key, "Plaintext": "aGVsbG8="})
	var ct struct{ CiphertextBlob string }
	if json.Unmarshal(r.Body, &ct); r.Status != http.StatusOK {
		t.Fatalf("Encrypt: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, c, "Decrypt", map[string]any{"CiphertextBlob": ct.CiphertextBlob}); r.ErrorType != "AccessDeniedException" {
		t.Fatalf("ghost Decrypt: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
}
