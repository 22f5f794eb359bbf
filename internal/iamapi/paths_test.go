package iamapi_test

import (
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
)

// TestPathScopedAuthorization: every IAM action is authorized on its
// target's full ARN, path included, so that a Deny on a path holds for
// every action on users and roles under it, and GetRole shows a deleted
// trusted user's unique ID.
func TestPathScopedAuthorization(t *testing.T) {
	n := startNode(t)
	ep := n.Endpoint
	const trustAcct = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}`
	iamOK(t, ep, admin, form("Action", "CreateUser", "UserName", "boss", "Path", "/admins/"))
	iamOK(t, ep, admin, form("Action", "CreateUser", "UserName", "intern", "Path", "/staff/"))
	iamOK(t, ep, admin, form("Action", "CreateRole", "RoleName", "root-ops", "Path", "/admins/", "AssumeRolePolicyDocument", trustAcct))
	iamOK(t, ep, admin, form("Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument", trustAcct))
	iamOK(t, ep, admin, form("Action", "CreateUser", "UserName", "helpdesk", "Path", "/it/"))
	iamOK(t, ep, admin, form("Action", "PutUserPolicy", "UserName", "helpdesk", "PolicyName", "p", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},`+
			`{"Effect":"Deny","Action":"iam:*","Resource":["arn:aws:iam::111122223333:user/admins/*","arn:aws:iam::111122223333:role/admins/*"]}]}`))
	body := iamOK(t, ep, admin, form("Action", "CreateAccessKey", "UserName", "helpdesk"))
	var ck struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	if err := xml.Unmarshal(body, &ck); err != nil {
		t.Fatal(err)
	}
	helpdesk := creds{ck.ID, ck.Secret, ""}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	cases := []struct {
		name   string
		params url.Values
		denied string // the resource named in AccessDenied; "" for success
	}{
		{"fail/CreateAccessKey under the path", form("Action", "CreateAccessKey", "UserName", "boss"), "arn:aws:iam::111122223333:user/admins/boss"},
		{"fail/PutUserPolicy under the path", form("Action", "PutUserPolicy", "UserName", "boss", "PolicyName", "x", "PolicyDocument", policy), "arn:aws:iam::111122223333:user/admins/boss"},
		{"fail/GetUser under the path", form("Action", "GetUser", "UserName", "boss"), "arn:aws:iam::111122223333:user/admins/boss"},
		{"fail/DeleteUser under the path", form("Action", "DeleteUser", "UserName", "boss"), "arn:aws:iam::111122223333:user/admins/boss"},
		{"fail/ListAccessKeys under the path", form("Action", "ListAccessKeys", "UserName", "boss"), "arn:aws:iam::111122223333:user/admins/boss"},
		{"fail/CreateUser under the path", form("Action", "CreateUser", "UserName", "boss2", "Path", "/admins/"), "arn:aws:iam::111122223333:user/admins/boss2"},
		{"fail/PutRolePolicy under the path", form("Action", "PutRolePolicy", "RoleName", "root-ops", "PolicyName", "x", "PolicyDocument", policy), "arn:aws:iam::111122223333:role/admins/root-ops"},
		{"fail/UpdateAssumeRolePolicy under the path", form("Action", "UpdateAssumeRolePolicy", "RoleName", "root-ops", "PolicyDocument", trustAcct), "arn:aws:iam::111122223333:role/admins/root-ops"},
		{"fail/DeleteRole under the path", form("Action", "DeleteRole", "RoleName", "root-ops"), "arn:aws:iam::111122223333:role/admins/root-ops"},
		{"fail/CreateRole under the path", form("Action", "CreateRole", "RoleName", "r2", "Path", "/admins/", "AssumeRolePolicyDocument", trustAcct), "arn:aws:iam::111122223333:role/admins/r2"},
		{"ok/CreateAccessKey elsewhere", form("Action", "CreateAccessKey", "UserName", "intern"), ""},
		{"ok/PutRolePolicy elsewhere", form("Action", "PutRolePolicy", "RoleName", "app", "PolicyName", "x", "PolicyDocument", policy), ""},
		{"ok/CreateUser elsewhere", form("Action", "CreateUser", "UserName", "intern2", "Path", "/staff/"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := query(t, ep, helpdesk, "iam", c.params)
			if c.denied == "" {
				if status != 200 {
					t.Fatalf("status %d: %s", status, body)
				}
				return
			}
			var e errorResponse
			xml.Unmarshal(body, &e)
			want := "User: arn:aws:iam::111122223333:user/it/helpdesk is not authorized to perform: iam:" + c.params.Get("Action") + " on resource: " + c.denied
			if status != 403 || e.Code != "AccessDenied" || !strings.HasPrefix(e.Message, want) {
				t.Fatalf("status %d %s %q, want AccessDenied %q", status, e.Code, e.Message, want)
			}
		})
	}
	// GetCallerIdentity shows the caller's full ARN.
	status, body := query(t, ep, helpdesk, "sts", form("Action", "GetCallerIdentity"))
	if status != 200 || !strings.Contains(string(body), "<Arn>arn:aws:iam::111122223333:user/it/helpdesk</Arn>") {
		t.Fatalf("GetCallerIdentity: %d %s", status, body)
	}

	// A role trusting a user keeps the user's unique ID after the user is
	// deleted: GetRole shows the ID, not the ARN.
	body = iamOK(t, ep, admin, form("Action", "CreateUser", "UserName", "temp"))
	var cu struct {
		ID string `xml:"CreateUserResult>User>UserId"`
	}
	xml.Unmarshal(body, &cu)
	tempARN := "arn:aws:iam::111122223333:user/temp"
	trustTemp := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + tempARN + `"},"Action":"sts:AssumeRole"}]}`
	iamOK(t, ep, admin, form("Action", "CreateRole", "RoleName", "fortemp", "AssumeRolePolicyDocument", trustTemp))
	iamOK(t, ep, admin, form("Action", "DeleteUser", "UserName", "temp"))
	body = iamOK(t, ep, admin, form("Action", "GetRole", "RoleName", "fortemp"))
	var gr struct {
		Doc string `xml:"GetRoleResult>Role>AssumeRolePolicyDocument"`
	}
	xml.Unmarshal(body, &gr)
	doc, _ := url.QueryUnescape(gr.Doc)
	if strings.Contains(doc, tempARN) || !strings.Contains(doc, `"AWS":"`+cu.ID+`"`) {
		t.Fatalf("trust policy after deleting the user: %s", doc)
	}
}
