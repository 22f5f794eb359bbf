package security

import (
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// FINDING (red team, authz): the principals file adopts a squatted user or
// role. ApplyPrincipals (internal/iam/declare.go) treats an existing user
// or role of the declared name as the declared one, whatever its path and
// whoever made it, and puts the declared policies on it. An insider who may
// create users and access keys outside /admins/ (and may not put
// policies), seeing a new administrator declared in the file (a GitOps pull
// request), creates that name first under "/" with an access key of its
// own; or creates the declared role with a trust policy naming itself and
// assumes it for 12 hours. At the next start the declared policies land on
// the squatted user (the insider's key holds them) and on the squatted
// role (its trust policy is replaced, but the session taken before keeps
// working with the new policies). The declared path (/admins/) is
// ignored, so path-scoped Denies do not cover the adopted principals
// either.
//
// The safe outcome asserted here: neither the insider's access key nor
// its session gains what the file declares for the administrator. How to
// get there is a judgment call: refusing to apply (and so to start) lets
// the same insider stop the server at its next restart; adopting only a
// principal whose path matches still adopts a same-path squat. One way:
// record in the user or role that the file created it, and refuse (log
// and skip, not fail the start) to adopt one it did not create, or one
// whose path differs, unless the file says to adopt it.
func TestFindingPrincipalsFileAdoptsSquattedPrincipals(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	identCreateUser(t, s, Admin, "helpdesk", "/it/")
	s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "helpdesk", "PolicyName", "helpdesk", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[`+
			`{"Effect":"Allow","Action":["iam:CreateUser","iam:CreateAccessKey","iam:CreateRole","sts:AssumeRole"],"Resource":"*"},`+
			`{"Effect":"Deny","Action":"iam:*","Resource":["arn:aws:iam::`+account+`:user/admins/*","arn:aws:iam::`+account+`:role/admins/*"]}]}`)
	helpdesk := identAccessKey(t, s, Admin, "helpdesk")

	// The squat, before the file declares the administrator.
	identCreateUser(t, s, helpdesk, "release-admin", "")
	squatKey := identAccessKey(t, s, helpdesk, "release-admin")
	s.MustQuery(t, helpdesk, "iam", "Action", "CreateRole", "RoleName", "deployer", "MaxSessionDuration", "43200",
		"AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+account+`:user/it/helpdesk"},"Action":"sts:AssumeRole"}]}`)
	var assumed struct {
		AKID   string `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
		Secret string `xml:"AssumeRoleResult>Credentials>SecretAccessKey"`
		Token  string `xml:"AssumeRoleResult>Credentials>SessionToken"`
	}
	body := s.MustQuery(t, helpdesk, "sts", "Action", "AssumeRole", "RoleArn", "arn:aws:iam::"+account+":role/deployer",
		"RoleSessionName", "squat", "DurationSeconds", "43200")
	if err := xml.Unmarshal(body, &assumed); err != nil || assumed.AKID == "" {
		t.Fatalf("AssumeRole: %s", body)
	}
	session := Creds{AKID: assumed.AKID, Secret: assumed.Secret, Token: assumed.Token}
	for _, c := range []Creds{squatKey, session} {
		if r := s.Call(t, c, "CreateKey", nil); r.ErrorType != "AccessDeniedException" {
			t.Fatalf("before the file is applied: CreateKey %d %s", r.Status, r.ErrorType)
		}
	}
	s.Stop(t)

	// The operator declares the administrator and the deployer role under
	// /admins/, and restarts.
	file := filepath.Join(t.TempDir(), "principals.yaml")
	allKMS := `'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'`
	yaml := `accounts:
  - id: "` + account + `"
    users:
      - name: release-admin
        path: /admins/
        policies:
          all: ` + allKMS + `
    roles:
      - name: deployer
        path: /admins/
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"}]}'
        policies:
          all: ` + allKMS + `
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s = Start(t, Opts{DataDir: s.DataDir, ConfigHome: s.ConfigHome, RootKeyHex: s.RootKeyHex, Args: []string{"--principals", file}})
	for _, c := range []struct {
		name string
		c    Creds
	}{{"the squatter's access key", squatKey}, {"the squatter's role session", session}} {
		t.Run(c.name, func(t *testing.T) {
			r := s.Call(t, c.c, "CreateKey", nil)
			if r.Status == http.StatusOK || r.ErrorType != "AccessDeniedException" {
				t.Fatalf("%s holds the declared administrator's kms:*: CreateKey %d %s", c.name, r.Status, r.ErrorType)
			}
		})
	}
}
