package security

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// rtAliasTarget returns the key ID an alias of the admin's account names.
func rtAliasTarget(t *testing.T, s *Server, alias string) string {
	t.Helper()
	r := s.Call(t, Admin, "DescribeKey", map[string]any{"KeyId": alias})
	if r.Status != http.StatusOK {
		t.Fatalf("DescribeKey %s: %d %s %s", alias, r.Status, r.ErrorType, r.Message)
	}
	var out struct{ KeyMetadata struct{ KeyId string } }
	json.Unmarshal(r.Body, &out)
	return out.KeyMetadata.KeyId
}

// TestAliasResourceDeny: AWS authorizes CreateAlias, UpdateAlias and
// DeleteAlias on the alias ARN in the caller's IAM policies (and on the
// key in its key policy). A developer allowed kms:* but denied the alias
// operations on arn:aws:kms:REGION:ACCOUNT:alias/prod/* must not point
// the production alias that applications encrypt with at a key of its own
// (they would then encrypt under the developer's key), delete it, or
// create new aliases under alias/prod/. Outside alias/prod/ it may.
func TestAliasResourceDeny(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	prod := s.CreateKey(t, Admin, nil)
	if r := s.Call(t, Admin, "CreateAlias", map[string]any{"AliasName": "alias/prod/db", "TargetKeyId": prod}); r.Status != http.StatusOK {
		t.Fatalf("CreateAlias: %d %s", r.Status, r.Message)
	}
	aliasARN := "arn:aws:kms:" + region + ":" + account + ":alias/prod/"
	identCreateUser(t, s, Admin, "dev", "")
	s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "dev", "PolicyName", "dev", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},`+
			`{"Effect":"Deny","Action":["kms:CreateAlias","kms:UpdateAlias","kms:DeleteAlias"],"Resource":"`+aliasARN+`*"}]}`)
	dev := identAccessKey(t, s, Admin, "dev")
	const who = "arn:aws:iam::" + account + ":user/dev"
	mine := s.CreateKey(t, dev, nil)

	for _, c := range []struct{ op, alias string }{
		{"UpdateAlias", "alias/prod/db"},
		{"DeleteAlias", "alias/prod/db"},
		{"CreateAlias", "alias/prod/new"},
	} {
		t.Run("fail/"+c.op+" "+c.alias, func(t *testing.T) {
			body := map[string]any{"AliasName": c.alias}
			if c.op != "DeleteAlias" {
				body["TargetKeyId"] = mine
			}
			r := s.Call(t, dev, c.op, body)
			want := "User: " + who + " is not authorized to perform: kms:" + c.op + " on resource: arn:aws:kms:" + region + ":" + account + ":" + c.alias +
				" with an explicit deny in an identity-based policy"
			if r.Status != http.StatusBadRequest || r.ErrorType != "AccessDeniedException" || r.Message != want {
				t.Fatalf("got %d %s %q, want AccessDeniedException %q", r.Status, r.ErrorType, r.Message, want)
			}
		})
	}
	if got := rtAliasTarget(t, s, "alias/prod/db"); got != prod {
		t.Fatalf("alias/prod/db now names %s, not the production key %s", got, prod)
	}
	if r := s.Call(t, Admin, "DescribeKey", map[string]any{"KeyId": "alias/prod/new"}); r.ErrorType != "NotFoundException" {
		t.Fatalf("alias/prod/new: %d %s %s", r.Status, r.ErrorType, r.Message)
	}

	t.Run("ok/outside the denied prefix", func(t *testing.T) {
		for _, c := range []struct{ op, alias string }{{"CreateAlias", "alias/dev/x"}, {"UpdateAlias", "alias/dev/x"}, {"DeleteAlias", "alias/dev/x"}} {
			body := map[string]any{"AliasName": c.alias, "TargetKeyId": mine}
			if c.op == "DeleteAlias" {
				delete(body, "TargetKeyId")
			}
			if r := s.Call(t, dev, c.op, body); r.Status != http.StatusOK {
				t.Fatalf("%s %s: %d %s %s", c.op, c.alias, r.Status, r.ErrorType, r.Message)
			}
		}
	})

	// An IAM policy that allows the alias operations only on some
	// aliases (AWS's documented way to delegate them) allows those.
	identCreateUser(t, s, Admin, "team", "")
	s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "team", "PolicyName", "team", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"},`+
			`{"Effect":"Allow","Action":["kms:CreateAlias","kms:UpdateAlias","kms:DeleteAlias"],`+
			`"Resource":["arn:aws:kms:*:`+account+`:alias/team/*","arn:aws:kms:*:`+account+`:key/*"]}]}`)
	team := identAccessKey(t, s, Admin, "team")
	teamKey := s.CreateKey(t, team, nil)
	t.Run("ok/team alias", func(t *testing.T) {
		if r := s.Call(t, team, "CreateAlias", map[string]any{"AliasName": "alias/team/a", "TargetKeyId": teamKey}); r.Status != http.StatusOK {
			t.Fatalf("CreateAlias alias/team/a: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
	})
	t.Run("fail/team on another alias", func(t *testing.T) {
		r := s.Call(t, team, "CreateAlias", map[string]any{"AliasName": "alias/other", "TargetKeyId": teamKey})
		if r.ErrorType != "AccessDeniedException" || !strings.HasSuffix(r.Message, ":alias/other because no identity-based policy allows the kms:CreateAlias action") {
			t.Fatalf("got %d %s %q", r.Status, r.ErrorType, r.Message)
		}
	})
}
