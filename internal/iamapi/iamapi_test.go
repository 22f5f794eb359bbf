package iamapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/testenv"
)

const (
	acct        = "111122223333"
	adminAKID   = "AKIAIAMAPITESTADMIN1"
	adminSecret = "iamapi-test-admin-secret-0123456789"
)

func startNode(t testing.TB) *node.Node {
	t.Helper()
	dir := t.TempDir()
	n, err := node.Start(&config.File{Listen: "127.0.0.1:0", DataDir: dir},
		node.Options{Env: config.Env{AccessKeyID: adminAKID, SecretAccessKey: adminSecret}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	return n
}

type creds struct{ akid, secret, token string }

var admin = creds{adminAKID, adminSecret, ""}

// query sends a SigV4-signed IAM (service "iam", region us-east-1) or STS
// query request and returns the status and body.
func query(t testing.TB, endpoint string, c creds, service string, params url.Values) (int, []byte) {
	t.Helper()
	version := "2010-05-08"
	if service == "sts" {
		version = "2011-06-15"
	}
	params.Set("Version", version)
	body := params.Encode()
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if c.token != "" {
		req.Header.Set("X-Amz-Security-Token", c.token)
	}
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.akid, SecretAccessKey: c.secret, SessionToken: c.token},
		req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Type    string   `xml:"Error>Type"`
	Code    string   `xml:"Error>Code"`
	Message string   `xml:"Error>Message"`
	ReqID   string   `xml:"RequestId"`
}

func iamOK(t testing.TB, endpoint string, c creds, params url.Values) []byte {
	t.Helper()
	status, body := query(t, endpoint, c, "iam", params)
	if status != 200 {
		t.Fatalf("%s: status %d: %s", params.Get("Action"), status, body)
	}
	return body
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

const allowKMS = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`

func TestQueryAPI(t *testing.T) {
	n := startNode(t)
	ep := n.Endpoint
	body := iamOK(t, ep, admin, form("Action", "CreateUser", "UserName", "alice"))
	var cu struct {
		XMLName xml.Name `xml:"CreateUserResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		User    struct {
			Path, UserName, UserId, Arn, CreateDate string
		} `xml:"CreateUserResult>User"`
		ReqID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(body, &cu); err != nil {
		t.Fatal(err)
	}
	if cu.Xmlns != "https://iam.amazonaws.com/doc/2010-05-08/" || cu.User.Arn != "arn:aws:iam::111122223333:user/alice" ||
		cu.User.Path != "/" || !strings.HasPrefix(cu.User.UserId, "AIDA") || cu.ReqID == "" {
		t.Fatalf("CreateUser response:\n%s", body)
	}
	if _, err := time.Parse(time.RFC3339, cu.User.CreateDate); err != nil {
		t.Fatalf("CreateDate %q: %v", cu.User.CreateDate, err)
	}
	iamOK(t, ep, admin, form("Action", "PutUserPolicy", "UserName", "alice", "PolicyName", "p", "PolicyDocument", allowKMS))
	body = iamOK(t, ep, admin, form("Action", "GetUserPolicy", "UserName", "alice", "PolicyName", "p"))
	var gp struct {
		Doc string `xml:"GetUserPolicyResult>PolicyDocument"`
	}
	xml.Unmarshal(body, &gp)
	if dec, err := url.QueryUnescape(gp.Doc); err != nil || dec != allowKMS || strings.ContainsAny(gp.Doc, "{\" ") {
		t.Fatalf("PolicyDocument %q is not AWS's URL-encoded form", gp.Doc)
	}

	errs := []struct {
		name    string
		c       creds
		service string
		params  url.Values
		status  int
		code    string
		msg     string
	}{
		{"fail/no-such-user", admin, "iam", form("Action", "GetUser", "UserName", "bob"), 404, "NoSuchEntity", "The user with name bob cannot be found."},
		{"fail/exists", admin, "iam", form("Action", "CreateUser", "UserName", "alice"), 409, "EntityAlreadyExists", "User with name alice already exists."},
		{"fail/delete-conflict", admin, "iam", form("Action", "DeleteUser", "UserName", "alice"), 409, "DeleteConflict", "Cannot delete entity, must delete policies first."},
		{"fail/malformed", admin, "iam", form("Action", "PutUserPolicy", "UserName", "alice", "PolicyName", "q", "PolicyDocument", "{"), 400, "MalformedPolicyDocument", ""},
		{"fail/policy-sid-not-alphanumeric", admin, "iam", form("Action", "PutUserPolicy", "UserName", "alice", "PolicyName", "q", "PolicyDocument",
			`{"Version":"2012-10-17","Statement":[{"Sid":"allow-kms","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`), 400, "MalformedPolicyDocument",
			"Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"},
		{"fail/trust-policy-sid-not-alphanumeric", admin, "iam", form("Action", "CreateRole", "RoleName", "r", "AssumeRolePolicyDocument",
			`{"Version":"2012-10-17","Statement":[{"Sid":"trust me","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`), 400, "MalformedPolicyDocument",
			"Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"},
		{"fail/missing-param", admin, "iam", form("Action", "CreateUser"), 400, "ValidationError", "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"fail/unknown-action", admin, "iam", form("Action", "CreateGroup"), 400, "InvalidAction", "Could not find operation CreateGroup for version 2010-05-08"},
		{"fail/unknown-key", creds{"AKIAUNKNOWNUNKNOWN00", "x-secret-x-secret-x-secret", ""}, "iam", form("Action", "ListUsers"), 403, "InvalidClientTokenId", "The security token included in the request is invalid."},
		{"fail/bad-signature", creds{adminAKID, "wrong-secret-wrong-secret", ""}, "iam", form("Action", "ListUsers"), 403, "SignatureDoesNotMatch", ""},
		{"fail/sts-unknown-key", creds{"AKIAUNKNOWNUNKNOWN00", "x-secret-x-secret-x-secret", ""}, "sts", form("Action", "GetCallerIdentity"), 403, "InvalidClientTokenId", ""},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			status, body := query(t, ep, tc.c, tc.service, tc.params)
			var e errorResponse
			if err := xml.Unmarshal(body, &e); err != nil {
				t.Fatalf("not an ErrorResponse: %s", body)
			}
			ns := "https://iam.amazonaws.com/doc/2010-05-08/"
			if tc.service == "sts" {
				ns = "https://sts.amazonaws.com/doc/2011-06-15/"
			}
			if status != tc.status || e.Code != tc.code || e.Type != "Sender" || e.ReqID == "" || e.Xmlns != ns {
				t.Fatalf("status %d, error %+v; want %d %s", status, e, tc.status, tc.code)
			}
			if tc.msg != "" && e.Message != tc.msg {
				t.Fatalf("message %q, want %q", e.Message, tc.msg)
			}
		})
	}
}

// TestSTSWithSDK drives STS with aws-sdk-go-v2's own client: a user created
// through the IAM API assumes a role, and the session credentials (with
// their session token) work unchanged.
func TestSTSWithSDK(t *testing.T) {
	n := startNode(t)
	ep := n.Endpoint
	iamOK(t, ep, admin, form("Action", "CreateUser", "UserName", "bob"))
	var ak struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	xml.Unmarshal(iamOK(t, ep, admin, form("Action", "CreateAccessKey", "UserName", "bob")), &ak)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}]}`
	iamOK(t, ep, admin, form("Action", "CreateRole", "RoleName", "reader", "AssumeRolePolicyDocument", trust))
	iamOK(t, ep, admin, form("Action", "PutRolePolicy", "RoleName", "reader", "PolicyName", "list", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`))

	client := func(c creds) *sts.Client {
		return sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), HTTPClient: awshttp.NewBuildableClient(),
			Credentials: credentials.NewStaticCredentialsProvider(c.akid, c.secret, c.token), Retryer: aws.NopRetryer{}})
	}
	ctx := context.Background()
	bob := creds{ak.ID, ak.Secret, ""}
	id, err := client(bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:iam::111122223333:user/bob" || aws.ToString(id.Account) != acct {
		t.Fatalf("GetCallerIdentity = %+v, %v", id, err)
	}
	// bob has no identity policy: IAM calls are denied.
	status, body := query(t, ep, bob, "iam", form("Action", "ListUsers"))
	if status != 403 || !bytes.Contains(body, []byte("<Code>AccessDenied</Code>")) {
		t.Fatalf("ListUsers as bob: %d %s", status, body)
	}
	out, err := client(bob).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/reader"),
		RoleSessionName: aws.String("sess"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	if exp := aws.ToTime(out.Credentials.Expiration); exp.Before(time.Now().Add(14*time.Minute)) || exp.After(time.Now().Add(16*time.Minute)) {
		t.Fatalf("expiration %v", exp)
	}
	sess := creds{aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken)}
	id, err = client(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:sts::111122223333:assumed-role/reader/sess" {
		t.Fatalf("session identity = %+v, %v", id, err)
	}
	iamOK(t, ep, sess, form("Action", "ListUsers"))
	// Without the session token the session credentials are refused.
	status, _ = query(t, ep, creds{sess.akid, sess.secret, ""}, "iam", form("Action", "ListUsers"))
	if status != 403 {
		t.Fatalf("without token: status %d", status)
	}
	_, err = client(bob).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/nope"), RoleSessionName: aws.String("sess")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("AssumeRole of a missing role: %v", err)
	}

	// Every call is in the audit trail, under the right service, without
	// secrets.
	var names []string
	err = audit.Read(filepath.Join(n.Config.DataDir, "audit"), audit.Filter{}, func(e audit.Entry) error {
		if e.Event.EventSource == "iam.amazonaws.com" || e.Event.EventSource == "sts.amazonaws.com" {
			names = append(names, e.Event.EventSource+":"+e.Event.EventName)
		}
		for _, s := range []string{ak.Secret, sess.secret, sess.token} {
			if bytes.Contains(e.Raw, []byte(s)) {
				t.Fatalf("secret in audit record %s", e.Raw)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names, ",")
	for _, want := range []string{"iam.amazonaws.com:CreateUser", "iam.amazonaws.com:CreateAccessKey", "sts.amazonaws.com:AssumeRole", "sts.amazonaws.com:GetCallerIdentity"} {
		if !strings.Contains(got, want) {
			t.Fatalf("audit trail lacks %s: %s", want, got)
		}
	}
}

// TestAWSCLI runs the real AWS CLI against the server.
func TestAWSCLI(t *testing.T) {
	awsPath, err := exec.LookPath("aws")
	if err != nil {
		testenv.Missing(t, testenv.AWSCLI, "aws CLI not installed")
	}
	n := startNode(t)
	home := t.TempDir()
	run := func(c creds, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(awsPath, append(args, "--endpoint-url", n.Endpoint, "--output", "json")...)
		cmd.Env = append(os.Environ(), "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "none"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"), "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID="+c.akid, "AWS_SECRET_ACCESS_KEY="+c.secret, "AWS_SESSION_TOKEN="+c.token)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			errors.As(err, &ee)
			t.Fatalf("aws %v: %v: %s", args, err, ee.Stderr)
		}
		return out
	}
	run(admin, "iam", "create-user", "--user-name", "carol")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	json.Unmarshal(run(admin, "iam", "create-access-key", "--user-name", "carol"), &key)
	run(admin, "iam", "create-role", "--role-name", "ops", "--assume-role-policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/carol"},"Action":"sts:AssumeRole"}]}`)
	var role struct {
		Role struct{ AssumeRolePolicyDocument map[string]any }
	}
	json.Unmarshal(run(admin, "iam", "get-role", "--role-name", "ops"), &role)
	if role.Role.AssumeRolePolicyDocument["Version"] != "2012-10-17" {
		t.Fatalf("get-role trust policy = %v", role.Role.AssumeRolePolicyDocument)
	}
	carol := creds{key.AccessKey.AccessKeyId, key.AccessKey.SecretAccessKey, ""}
	var id struct{ Arn, Account, UserId string }
	json.Unmarshal(run(carol, "sts", "get-caller-identity"), &id)
	if id.Arn != "arn:aws:iam::111122223333:user/carol" {
		t.Fatalf("get-caller-identity = %+v", id)
	}
	var ar struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	json.Unmarshal(run(carol, "sts", "assume-role", "--role-arn", "arn:aws:iam::111122223333:role/ops", "--role-session-name", "cli"), &ar)
	sess := creds{ar.Credentials.AccessKeyId, ar.Credentials.SecretAccessKey, ar.Credentials.SessionToken}
	json.Unmarshal(run(sess, "sts", "get-caller-identity"), &id)
	if id.Arn != "arn:aws:sts::111122223333:assumed-role/ops/cli" {
		t.Fatalf("session identity = %+v", id)
	}
	var users struct{ Users []struct{ UserName string } }
	json.Unmarshal(run(admin, "iam", "list-users"), &users)
	if len(users.Users) != 1 || users.Users[0].UserName != "carol" {
		t.Fatalf("list-users = %+v", users)
	}
}

func BenchmarkGetCallerIdentity(b *testing.B) {
	n := startNode(b)
	b.ReportAllocs()
	for b.Loop() {
		if status, body := query(b, n.Endpoint, admin, "sts", form("Action", "GetCallerIdentity")); status != 200 {
			b.Fatal(string(body))
		}
	}
}
