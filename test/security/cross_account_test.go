package security

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The attack of issue 16 item 3: a second account, created as an operator
// creates one (`trent admin create-account` against the running server's
// data directory), calls every listing and describe operation against
// account 1's resources. No answer may carry account 1's data, and no
// answer may tell a key that exists from one that does not.

const isoOther = "444455556666"

// isoCreateAccount runs `trent admin create-account` on s's data directory
// while s runs and returns the new account's root credential.
func isoCreateAccount(t *testing.T, s *Server, id string) Creds {
	t.Helper()
	env := []string{"TRENT_ROOT_KEY=" + s.RootKeyHex, "XDG_CONFIG_HOME=" + s.ConfigHome, "HOME=" + s.ConfigHome}
	out, err := Trent(t, env, "admin", "create-account", "--data-dir", s.DataDir, "--account-id", id, "--name", "partner")
	if err != nil {
		t.Fatalf("trent admin create-account: %v\n%s", err, out)
	}
	var c Creds
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, " = ")
		switch {
		case !ok:
		case k == "aws_access_key_id":
			c.AKID = strings.TrimSpace(v)
		case k == "aws_secret_access_key":
			c.Secret = strings.TrimSpace(v)
		}
	}
	if c.AKID == "" || c.Secret == "" {
		t.Fatalf("no credential in the output of create-account:\n%s", out)
	}
	return c
}

// isoMustCall is s.Call failing the test unless the status is 200; it
// returns the body decoded into out (if non-nil).
func isoMustCall(t *testing.T, s *Server, c Creds, op string, body any, out any) {
	t.Helper()
	r := s.Call(t, c, op, body)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s %s", op, r.Status, r.ErrorType, r.Message)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			t.Fatalf("%s: %v in %s", op, err, r.Body)
		}
	}
}

var isoXMLField = regexp.MustCompile(`<(AccessKeyId|SecretAccessKey)>([^<]+)</`)

// isoLeaks returns the markers that appear in answer but not in request:
// data of account 1 that the caller did not supply itself.
func isoLeaks(markers []string, request, answer string) []string {
	var out []string
	for _, m := range markers {
		if !strings.Contains(request, m) && strings.Contains(answer, m) {
			out = append(out, m)
		}
	}
	return out
}

// TestCrossAccountListingsLeakNothing sets up account 1 (keys with a
// description, tags, an alias, a grant with constraints, IAM users, roles
// and policies) and lets a second account's root and an
// administrator user of that account call every listing and describe
// operation against it.
func TestCrossAccountListingsLeakNothing(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})

	// Account 1's resources; every name is a marker that must not leak.
	var k1 struct{ KeyMetadata struct{ KeyId, Arn string } }
	isoMustCall(t, s, Admin, "CreateKey", map[string]any{"Description": "isosecret-description",
		"Tags": []map[string]string{{"TagKey": "isosecret-tag-key", "TagValue": "isosecret-tag-value"}}}, &k1)
	var k2 struct{ KeyMetadata struct{ KeyId, Arn string } }
	isoMustCall(t, s, Admin, "CreateKey", map[string]any{"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}, &k2)
	isoMustCall(t, s, Admin, "CreateAlias", map[string]any{"AliasName": "alias/isosecret-alias", "TargetKeyId": k1.KeyMetadata.KeyId}, nil)
	isoMustCall(t, s, Admin, "EnableKeyRotation", map[string]any{"KeyId": k1.KeyMetadata.KeyId}, nil)
	isoMustCall(t, s, Admin, "Encrypt", map[string]any{"KeyId": k1.KeyMetadata.KeyId, "Plaintext": "aGVsbG8="}, nil)
	s.MustQuery(t, Admin, "iam", "Action", "CreateUser", "UserName", "isosecret-alice")
	akBody := string(s.MustQuery(t, Admin, "iam", "Action", "CreateAccessKey", "UserName", "isosecret-alice"))
	var aliceAKID string
	for _, m := range isoXMLField.FindAllStringSubmatch(akBody, -1) {
		if m[1] == "AccessKeyId" {
			aliceAKID = m[2]
		}
	}
	if aliceAKID == "" {
		t.Fatalf("CreateAccessKey: %s", akBody)
	}
	s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "isosecret-alice", "PolicyName", "isosecret-policy",
		"PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`)
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "isosecret-role", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+account+`:root"},"Action":"sts:AssumeRole"}]}`)
	s.MustQuery(t, Admin, "iam", "Action", "PutRolePolicy", "RoleName", "isosecret-role", "PolicyName", "isosecret-role-policy",
		"PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	aliceARN := "arn:aws:iam::" + account + ":user/isosecret-alice"
	var grant struct{ GrantId string }
	isoMustCall(t, s, Admin, "CreateGrant", map[string]any{"KeyId": k1.KeyMetadata.KeyId, "GranteePrincipal": aliceARN,
		"RetiringPrincipal": aliceARN, "Operations": []string{"Decrypt"}, "Name": "isosecret-grant",
		"Constraints": map[string]any{"EncryptionContextSubset": map[string]string{"dept": "isosecret-ec"}}}, &grant)
	markers := []string{account, k1.KeyMetadata.KeyId, k2.KeyMetadata.KeyId, grant.GrantId, aliceAKID,
		"isosecret-description", "isosecret-tag-key", "isosecret-tag-value", "isosecret-alias", "isosecret-alice",
		"isosecret-policy", "isosecret-role", "isosecret-grant", "isosecret-ec"}

	// Account 2: its root, and a user of it whose identity policy allows
	// everything (what a compromised administrator would hold).
	root2 := isoCreateAccount(t, s, isoOther)
	WaitFor(t, 10*time.Second, func() error {
		if st, body := s.Query(t, root2, "sts", "Action", "GetCallerIdentity"); st != http.StatusOK {
			return fmt.Errorf("GetCallerIdentity: %d %s", st, body)
		}
		return nil
	})
	s.MustQuery(t, root2, "iam", "Action", "CreateUser", "UserName", "mallory")
	s.MustQuery(t, root2, "iam", "Action", "PutUserPolicy", "UserName", "mallory", "PolicyName", "all",
		"PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	var mallory Creds
	for _, m := range isoXMLField.FindAllStringSubmatch(string(s.MustQuery(t, root2, "iam", "Action", "CreateAccessKey", "UserName", "mallory")), -1) {
		if m[1] == "AccessKeyId" {
			mallory.AKID = m[2]
		} else {
			mallory.Secret = m[2]
		}
	}

	keyARN := k1.KeyMetadata.Arn
	missingARN := "arn:aws:kms:" + region + ":" + account + ":key/00000000-0000-4000-8000-000000000000"
	keyOps := []struct {
		op   string
		body func(ref string) map[string]any
	}{
		{"DescribeKey", func(r string) map[string]any { return map[string]any{"KeyId": r} }},
		{"ListGrants", func(r string) map[string]any { return map[string]any{"KeyId": r} }},
		{"ListResourceTags", func(r string) map[string]any { return map[string]any{"KeyId": r} }},
		{"ListKeyRotations", func(r string) map[string]any { return map[string]any{"KeyId": r} }},
		{"GetKeyRotationStatus", func(r string) map[string]any { return map[string]any{"KeyId": r} }},
		{"GetKeyPolicy", func(r string) map[string]any { return map[string]any{"KeyId": r, "PolicyName": "default"} }},
		{"ListKeyPolicies", func(r string) map[string]any { return map[string]any{"KeyId": r} }},
		{"GetKeyLastUsage", func(r string) map[string]any { return map[string]any{"KeyId": r} }},
		{"ListAliases", func(r string) map[string]any { return map[string]any{"KeyId": r} }},
		{"RetireGrant", func(r string) map[string]any { return map[string]any{"KeyId": r, "GrantId": grant.GrantId} }},
		{"RevokeGrant", func(r string) map[string]any { return map[string]any{"KeyId": r, "GrantId": grant.GrantId} }},
		// Operations whose checks of the key (usage, grant operations)
		// once came before authorization.
		{"CreateGrant", func(r string) map[string]any {
			return map[string]any{"KeyId": r, "GranteePrincipal": "arn:aws:iam::" + isoOther + ":root", "Operations": []string{"Sign"}}
		}},
		{"GenerateMac", func(r string) map[string]any {
			return map[string]any{"KeyId": r, "Message": "aGVsbG8=", "MacAlgorithm": "HMAC_SHA_256"}
		}},
		{"Sign", func(r string) map[string]any {
			return map[string]any{"KeyId": r, "Message": "aGVsbG8=", "SigningAlgorithm": "ECDSA_SHA_256"}
		}},
	}
	type call struct {
		name  string
		op    string
		body  map[string]any
		other map[string]any // the same call naming what does not exist
	}
	var calls []call
	for _, k := range keyOps {
		calls = append(calls, call{name: k.op, op: k.op, body: k.body(keyARN), other: k.body(missingARN)})
	}
	calls = append(calls,
		call{name: "DescribeKey/alias-arn", op: "DescribeKey",
			body:  map[string]any{"KeyId": "arn:aws:kms:" + region + ":" + account + ":alias/isosecret-alias"},
			other: map[string]any{"KeyId": "arn:aws:kms:" + region + ":" + account + ":alias/nonexistent"}},
		call{name: "GetPublicKey", op: "GetPublicKey", body: map[string]any{"KeyId": k2.KeyMetadata.Arn}, other: map[string]any{"KeyId": missingARN}},
		call{name: "Encrypt/with-a-signing-key", op: "Encrypt", body: map[string]any{"KeyId": k2.KeyMetadata.Arn, "Plaintext": "aGVsbG8="},
			other: map[string]any{"KeyId": missingARN, "Plaintext": "aGVsbG8="}},
	)
	for _, who := range []struct {
		name string
		c    Creds
	}{{"root", root2}, {"admin-user", mallory}} {
		principal := "arn:aws:iam::" + isoOther + ":root"
		if who.name != "root" {
			principal = "arn:aws:iam::" + isoOther + ":user/mallory"
		}
		for _, c := range calls {
			t.Run(who.name+"/"+c.name, func(t *testing.T) {
				a := s.Call(t, who.c, c.op, c.body)
				b := s.Call(t, who.c, c.op, c.other)
				req, _ := json.Marshal(c.body)
				if l := isoLeaks(markers, string(req), string(a.Body)); len(l) > 0 {
					t.Fatalf("answer %d %s carries account 1's %q", a.Status, a.Body, l)
				}
				if a.Status != b.Status || a.ErrorType != b.ErrorType || a.Message != b.Message {
					t.Fatalf("existing and missing resources answer differently:\n  %d %s %s\n  %d %s %s",
						a.Status, a.ErrorType, a.Message, b.Status, b.ErrorType, b.Message)
				}
				want := "User: " + principal + " is not authorized to perform: kms:" + c.op +
					" on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"
				if a.ErrorType != "AccessDeniedException" || a.Message != want {
					t.Fatalf("got %d %s %q, want AccessDeniedException %q", a.Status, a.ErrorType, a.Message, want)
				}
			})
		}
		// Listings of the caller's own account, and ListRetirableGrants
		// naming account 1's principals.
		lists := []struct {
			name   string
			op     string
			body   map[string]any
			denied bool
		}{
			{"ListKeys", "ListKeys", nil, false},
			{"ListAliases", "ListAliases", nil, false},
			{"DescribeCustomKeyStores", "DescribeCustomKeyStores", nil, false},
			{"ListRetirableGrants/account-1-user", "ListRetirableGrants", map[string]any{"RetiringPrincipal": aliceARN}, true},
			{"ListRetirableGrants/account-1-root", "ListRetirableGrants", map[string]any{"RetiringPrincipal": "arn:aws:iam::" + account + ":root"}, true},
			{"ListRetirableGrants/not-an-arn", "ListRetirableGrants", map[string]any{"RetiringPrincipal": "isosecret-alice"}, true},
			{"ListRetirableGrants/service-principal", "ListRetirableGrants", map[string]any{"RetiringServicePrincipal": "logs.amazonaws.com"}, true},
		}
		for _, l := range lists {
			t.Run(who.name+"/"+l.name, func(t *testing.T) {
				r := s.Call(t, who.c, l.op, l.body)
				req, _ := json.Marshal(l.body)
				if leaks := isoLeaks(markers, string(req), string(r.Body)); len(leaks) > 0 {
					t.Fatalf("answer %d %s carries account 1's %q", r.Status, r.Body, leaks)
				}
				if l.denied != (r.ErrorType == "AccessDeniedException") || (!l.denied && r.Status != http.StatusOK) {
					t.Fatalf("got %d %s %s", r.Status, r.ErrorType, r.Message)
				}
			})
		}
		// IAM: every listing and read is of the caller's own account.
		iamCalls := [][]string{
			{"Action", "ListUsers"},
			{"Action", "ListRoles"},
			{"Action", "ListAccessKeys"},
			{"Action", "GetUser", "UserName", "isosecret-alice"},
			{"Action", "ListAccessKeys", "UserName", "isosecret-alice"},
			{"Action", "ListUserPolicies", "UserName", "isosecret-alice"},
			{"Action", "GetUserPolicy", "UserName", "isosecret-alice", "PolicyName", "isosecret-policy"},
			{"Action", "GetRole", "RoleName", "isosecret-role"},
			{"Action", "ListRolePolicies", "RoleName", "isosecret-role"},
			{"Action", "GetRolePolicy", "RoleName", "isosecret-role", "PolicyName", "isosecret-role-policy"},
			{"Action", "UpdateAccessKey", "UserName", "isosecret-alice", "AccessKeyId", aliceAKID, "Status", "Inactive"},
			{"Action", "UpdateAccessKey", "AccessKeyId", aliceAKID, "Status", "Inactive"},
			{"Action", "DeleteAccessKey", "UserName", "isosecret-alice", "AccessKeyId", aliceAKID},
			{"Action", "DeleteAccessKey", "AccessKeyId", aliceAKID},
		}
		for _, kv := range iamCalls {
			t.Run(who.name+"/iam/"+strings.Join(kv[1:], "-"), func(t *testing.T) {
				st, body := s.Query(t, who.c, "iam", kv...)
				if l := isoLeaks(markers, strings.Join(kv, " "), string(body)); len(l) > 0 {
					t.Fatalf("answer %d %s carries account 1's %q", st, body, l)
				}
				if strings.HasPrefix(kv[1], "Get") || strings.HasPrefix(kv[1], "Update") || strings.HasPrefix(kv[1], "Delete") ||
					(kv[1] == "ListAccessKeys" || kv[1] == "ListUserPolicies" || kv[1] == "ListRolePolicies") && len(kv) > 2 {
					if st == http.StatusOK || !strings.Contains(string(body), "NoSuchEntity") {
						t.Fatalf("got %d %s, want NoSuchEntity", st, body)
					}
				}
			})
		}
		t.Run(who.name+"/sts/AssumeRole", func(t *testing.T) {
			st, body := s.Query(t, who.c, "sts", "Action", "AssumeRole",
				"RoleArn", "arn:aws:iam::"+account+":role/isosecret-role", "RoleSessionName", "probe")
			if st == http.StatusOK || !strings.Contains(string(body), "AccessDenied") {
				t.Fatalf("got %d %s", st, body)
			}
		})
	}
	// Account 1's access key survived the update and delete attempts.
	if body := string(s.MustQuery(t, Admin, "iam", "Action", "ListAccessKeys", "UserName", "isosecret-alice")); !strings.Contains(body, aliceAKID) ||
		!strings.Contains(body, "<Status>Active</Status>") {
		t.Fatalf("account 1's access key was changed by account 2: %s", body)
	}

	// With a key policy that allows account 2, the cross-account
	// operations work and a missing key is still indistinguishable from a
	// denied one.
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + isoOther + `:root"},"Action":["kms:DescribeKey","kms:ListGrants","kms:CreateGrant"],"Resource":"*"}]}`
	isoMustCall(t, s, Admin, "PutKeyPolicy", map[string]any{"KeyId": k1.KeyMetadata.KeyId, "PolicyName": "default", "Policy": policy}, nil)
	WaitFor(t, 10*time.Second, func() error {
		if r := s.Call(t, root2, "DescribeKey", map[string]any{"KeyId": keyARN}); r.Status != http.StatusOK {
			return fmt.Errorf("DescribeKey: %d %s", r.Status, r.Message)
		}
		return nil
	})
	if r := s.Call(t, mallory, "DescribeKey", map[string]any{"KeyId": keyARN}); r.Status != http.StatusOK {
		t.Fatalf("DescribeKey by account 2's administrator under a policy naming account 2: %d %s", r.Status, r.Message)
	}
	if r := s.Call(t, root2, "DescribeKey", map[string]any{"KeyId": missingARN}); r.ErrorType != "AccessDeniedException" {
		t.Fatalf("DescribeKey of a missing key of account 1: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	// Account 2 grants its own user on account 1's key, with account 2's
	// root as retiring principal: ListRetirableGrants shows that grant to
	// account 2 and still nothing to account 2 for account 1's principal.
	isoMustCall(t, s, root2, "CreateGrant", map[string]any{"KeyId": keyARN, "GranteePrincipal": "arn:aws:iam::" + isoOther + ":user/mallory",
		"RetiringPrincipal": "arn:aws:iam::" + isoOther + ":root", "Operations": []string{"DescribeKey"}}, nil)
	var own struct {
		Grants []struct{ KeyId, RetiringPrincipal string }
	}
	isoMustCall(t, s, root2, "ListRetirableGrants", map[string]any{"RetiringPrincipal": "arn:aws:iam::" + isoOther + ":root"}, &own)
	if len(own.Grants) != 1 || own.Grants[0].KeyId != keyARN {
		t.Fatalf("account 2's retirable grants: %+v", own)
	}
	if r := s.Call(t, root2, "ListRetirableGrants", map[string]any{"RetiringPrincipal": aliceARN}); r.ErrorType != "AccessDeniedException" {
		t.Fatalf("ListRetirableGrants for account 1's principal: %d %s", r.Status, r.Body)
	}
}
