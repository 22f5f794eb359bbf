package security

import (
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// This file attacks the principals file (trent serve --principals,
// internal/iam/declare.go) by squatting the names it declares.
//
// The attack (red team, authz): an insider who may create users, access
// keys and roles outside /admins/ (and may not put policies), seeing a new
// administrator declared in the file (a GitOps pull request), creates that
// name first under "/" with an access key of its own, and creates the
// declared role with a trust policy naming itself and assumes it for 12
// hours. A Trent that adopted whatever existed under a declared name put
// the declared policies on the squatted user (the insider's key held them)
// and on the squatted role (its trust policy was replaced, but the session
// taken before kept working with the new policies).
//
// The file now owns only what it created (or adopted on the operator's
// word): the squatted user and role are skipped, with an error logged, and
// the server starts; a declared role trusting the skipped user is skipped
// too instead of failing the start. With adopt: true the operator takes
// them over: the insider's access key is deleted and its session revoked.

// principalsFileSquat squats release-admin and deployer as the insider
// (helpdesk) and returns the squatter's access key and role session.
func principalsFileSquat(t *testing.T, s *Server) (squatKey, session Creds) {
	t.Helper()
	identCreateUser(t, s, Admin, "helpdesk", "/it/")
	s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "helpdesk", "PolicyName", "helpdesk", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[`+
			`{"Effect":"Allow","Action":["iam:CreateUser","iam:CreateAccessKey","iam:CreateRole","sts:AssumeRole"],"Resource":"*"},`+
			`{"Effect":"Deny","Action":"iam:*","Resource":["arn:aws:iam::`+account+`:user/admins/*","arn:aws:iam::`+account+`:role/admins/*"]}]}`)
	helpdesk := identAccessKey(t, s, Admin, "helpdesk")

	identCreateUser(t, s, helpdesk, "release-admin", "")
	squatKey = identAccessKey(t, s, helpdesk, "release-admin")
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
	session = Creds{AKID: assumed.AKID, Secret: assumed.Secret, Token: assumed.Token}
	for _, c := range []Creds{squatKey, session} {
		if r := s.Call(t, c, "CreateKey", nil); r.ErrorType != "AccessDeniedException" {
			t.Fatalf("before the file is applied: CreateKey %d %s", r.Status, r.ErrorType)
		}
	}
	return squatKey, session
}

// principalsFileYAML declares the administrator, the deployer role, and
// an operator role trusting the administrator, all under /admins/, with
// adopt set as given; the administrator's declared key reads its secret
// from $RELEASE_ADMIN_SECRET.
func principalsFileYAML(adopt bool) string {
	a := ""
	if adopt {
		a = "\n        adopt: true"
	}
	allKMS := `'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'`
	return `accounts:
  - id: "` + account + `"
    users:
      - name: release-admin
        path: /admins/` + a + `
        policies:
          all: ` + allKMS + `
        access_keys:
          - id: AKIARELEASEADMIN0001
            secret_env: RELEASE_ADMIN_SECRET
    roles:
      - name: operator
        path: /admins/
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:user/admins/release-admin"},"Action":"sts:AssumeRole"}]}'
        policies:
          all: ` + allKMS + `
      - name: deployer
        path: /admins/` + a + `
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"}]}'
        policies:
          all: ` + allKMS + `
`
}

const principalsFileSecret = "release-admin-secret-0123456789"

func TestPrincipalsFileSkipsSquattedPrincipals(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	squatKey, session := principalsFileSquat(t, s)
	s.Stop(t)

	// The operator declares the administrator and the roles under
	// /admins/, and restarts.
	file := filepath.Join(t.TempDir(), "principals.yaml")
	if err := os.WriteFile(file, []byte(principalsFileYAML(false)), 0o600); err != nil {
		t.Fatal(err)
	}
	restart := func() *Server {
		return Start(t, Opts{DataDir: s.DataDir, ConfigHome: s.ConfigHome, RootKeyHex: s.RootKeyHex,
			Args: []string{"--principals", file}, Env: []string{"RELEASE_ADMIN_SECRET=" + principalsFileSecret}})
	}
	s = restart()
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
	t.Run("skips are logged", func(t *testing.T) {
		out := s.Output()
		for _, want := range []string{
			"name=release-admin reason=\"it exists under path /, not the declared /admins/, and was not created by the principals file",
			"name=deployer reason=\"it exists under path /, not the declared /admins/, and was not created by the principals file",
			"name=operator reason=\"its trust policy names arn:aws:iam::" + account + ":user/admins/release-admin, which was not applied",
		} {
			if !strings.Contains(out, "declared principal not applied") || !strings.Contains(out, want) {
				t.Fatalf("no error logged with %q:\n%s", want, out)
			}
		}
	})
	t.Run("nothing declared landed on the squats", func(t *testing.T) {
		for _, q := range [][]string{
			{"Action", "ListUserPolicies", "UserName", "release-admin"},
			{"Action", "ListRolePolicies", "RoleName", "deployer"},
		} {
			if body := s.MustQuery(t, Admin, "iam", q...); strings.Contains(string(body), "<member>") {
				t.Fatalf("%s: %s", q[1], body)
			}
		}
		if r := s.Call(t, Creds{AKID: "AKIARELEASEADMIN0001", Secret: principalsFileSecret}, "ListKeys", nil); r.ErrorType != "UnrecognizedClientException" {
			t.Fatalf("the declared key was put on the squatted user: ListKeys %d %s", r.Status, r.ErrorType)
		}
	})
	s.Stop(t)

	// trent admin apply-principals skips the same, and says so in its exit
	// status.
	env := []string{"TRENT_ROOT_KEY=" + s.RootKeyHex, "XDG_CONFIG_HOME=" + s.ConfigHome, "HOME=" + s.ConfigHome,
		"RELEASE_ADMIN_SECRET=" + principalsFileSecret}
	out, err := Trent(t, env, "admin", "apply-principals", "--data-dir", s.DataDir, "--file", file)
	if err == nil || !strings.Contains(out, "user "+account+"/release-admin not applied") || !strings.Contains(out, "except 3 declared principal(s)") {
		t.Fatalf("trent admin apply-principals: %v\n%s", err, out)
	}

	// The operator, having looked, adopts them: the insider's key and
	// session are gone; the declared key holds the declared policies.
	if err := os.WriteFile(file, []byte(principalsFileYAML(true)), 0o600); err != nil {
		t.Fatal(err)
	}
	s = restart()
	if strings.Contains(s.Output(), "declared principal not applied") {
		t.Fatalf("skipped after adopt: true:\n%s", s.Output())
	}
	for _, c := range []struct {
		name string
		c    Creds
	}{{"the squatter's access key", squatKey}, {"the squatter's role session", session}} {
		if r := s.Call(t, c.c, "CreateKey", nil); r.Status == http.StatusOK || r.ErrorType != "UnrecognizedClientException" {
			t.Fatalf("after adoption, %s: CreateKey %d %s", c.name, r.Status, r.ErrorType)
		}
	}
	if r := s.Call(t, Creds{AKID: "AKIARELEASEADMIN0001", Secret: principalsFileSecret}, "CreateKey", nil); r.Status != http.StatusOK {
		t.Fatalf("the declared administrator: CreateKey %d %s", r.Status, r.ErrorType)
	}
	if body := s.MustQuery(t, Admin, "iam", "Action", "GetRole", "RoleName", "operator"); !strings.Contains(string(body), "role/admins/operator") {
		t.Fatalf("the operator role was not applied once its principal was adopted: %s", body)
	}
}
