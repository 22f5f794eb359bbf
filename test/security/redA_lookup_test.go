package security

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Red team A: the CloudTrail LookupEvents API (issue 19) and the request
// context its authorization sees.

// redATrail sends a CloudTrail JSON 1.1 request for op with body, signed
// with c for service "cloudtrail" (unsigned when c is the zero Creds).
func redATrail(t testing.TB, s *Server, c Creds, op string, body string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.Endpoint+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."+op)
	if c.AKID != "" {
		Sign(t, req, []byte(body), c, "cloudtrail")
	}
	return Do(t, req)
}

// redAUserKeys creates user name with an access key and returns it.
func redAUserKeys(t *testing.T, s *Server, name string) Creds {
	t.Helper()
	s.MustQuery(t, Admin, "iam", "Action", "CreateUser", "UserName", name)
	ak := string(s.MustQuery(t, Admin, "iam", "Action", "CreateAccessKey", "UserName", name))
	id := regexp.MustCompile(`<AccessKeyId>([^<]+)<`).FindStringSubmatch(ak)
	sec := regexp.MustCompile(`<SecretAccessKey>([^<]+)<`).FindStringSubmatch(ak)
	if id == nil || sec == nil {
		t.Fatalf("CreateAccessKey: %s", ak)
	}
	return Creds{AKID: id[1], Secret: sec[1]}
}

// TestRedARequestedRegionInEveryRequest: aws:RequestedRegion is in the
// request context of every AWS request (docs/principals.md lists it among
// the keys Trent sets). A guardrail that denies cloudtrail:LookupEvents,
// an account-level KMS action (kms:ListKeys) or an IAM action in a region
// must apply to them: with the key absent, the Deny's condition is false
// and the guardrail fails open.
func TestRedARequestedRegionInEveryRequest(t *testing.T) {
	s := Start(t, Opts{Args: []string{"--metrics-listen", "off"}})
	alice := redAUserKeys(t, s, "reda-alice")
	put := func(denyRegion string) {
		pol := `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["cloudtrail:LookupEvents","kms:ListKeys","iam:ListUsers"],"Resource":"*"},
			{"Effect":"Deny","Action":["cloudtrail:LookupEvents","kms:ListKeys","iam:ListUsers"],"Resource":"*",
			 "Condition":{"StringEquals":{"aws:RequestedRegion":"` + denyRegion + `"}}}]}`
		s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "reda-alice", "PolicyName", "guardrail", "PolicyDocument", pol)
	}
	check := func(wantDenied bool) {
		t.Helper()
		WaitFor(t, 10*time.Second, func() error {
			var errs []string
			if r := redATrail(t, s, alice, "LookupEvents", `{"MaxResults":1}`); (r.ErrorType == "AccessDeniedException") != wantDenied {
				errs = append(errs, fmt.Sprintf("LookupEvents: %d %s %s", r.Status, r.ErrorType, r.Message))
			}
			if r := s.Call(t, alice, "ListKeys", nil); (r.ErrorType == "AccessDeniedException") != wantDenied {
				errs = append(errs, fmt.Sprintf("ListKeys: %d %s %s", r.Status, r.ErrorType, r.Message))
			}
			if status, body := s.Query(t, alice, "iam", "Action", "ListUsers"); (status == http.StatusForbidden || bytes.Contains(body, []byte("AccessDenied"))) != wantDenied {
				errs = append(errs, fmt.Sprintf("ListUsers: %d %.200s", status, body))
			}
			if len(errs) > 0 {
				return fmt.Errorf("want denied=%v: %s", wantDenied, strings.Join(errs, "; "))
			}
			return nil
		})
	}
	// The guardrail names another region: nothing is denied.
	put("eu-west-1")
	check(false)
	// It names the server's region, the region every request is signed for.
	put(region)
	check(true)
}

// TestRedAGrantTokenNotRecorded: CreateGrant's record names the grant
// (responseElements grantId and keyId, as AWS's does), never its grant
// token: grant tokens are not recorded in requests (grantTokens), and
// LookupEvents would hand the response's token to every principal allowed
// cloudtrail:LookupEvents.
func TestRedAGrantTokenNotRecorded(t *testing.T) {
	s := Start(t, Opts{Args: []string{"--metrics-listen", "off"}})
	keyID := s.CreateKey(t, Admin, nil)
	r := s.Call(t, Admin, "CreateGrant", map[string]any{"KeyId": keyID, "GranteePrincipal": "arn:aws:iam::" + account + ":root", "Operations": []string{"Encrypt"}})
	var g struct{ GrantToken, GrantId string }
	if json.Unmarshal(r.Body, &g); r.Status != http.StatusOK || g.GrantToken == "" {
		t.Fatalf("CreateGrant: %d %s", r.Status, r.Body)
	}
	r = redATrail(t, s, Admin, "LookupEvents", `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"CreateGrant"}]}`)
	var out struct {
		Events []struct{ CloudTrailEvent string }
	}
	if json.Unmarshal(r.Body, &out); r.Status != http.StatusOK || len(out.Events) != 1 {
		t.Fatalf("LookupEvents: %d %s", r.Status, r.Body)
	}
	ev := out.Events[0].CloudTrailEvent
	if strings.Contains(ev, g.GrantToken) || strings.Contains(ev, `"grantToken"`) {
		t.Errorf("the record of CreateGrant carries its grant token: %s", ev)
	}
	if !strings.Contains(ev, g.GrantId) {
		t.Errorf("the record of CreateGrant does not name its grant: %s", ev)
	}
}
