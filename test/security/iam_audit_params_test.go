package security

import (
	"encoding/xml"
	"net/http"
	"testing"
)

// TestIAMAuditCaseVariantParameters: the IAM query API acts on the
// parameters as AWS names them (UserName, PolicyDocument); a parameter
// whose name differs only in the case of its first letter (userName,
// policyDocument) is not one of them. The audit record must name what
// the call acted on: before the fix both spellings were written under the
// same requestParameters key, and map order decided which one the record
// showed, so an insider could put an Allow *:* policy on one user while
// the trail said it put a Deny on another.
func TestIAMAuditCaseVariantParameters(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	identCreateUser(t, s, Admin, "victim", "")
	identCreateUser(t, s, Admin, "innocent", "")
	const (
		allow = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
		deny  = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	)
	for i := 0; i < 8; i++ {
		status, body := s.Query(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "victim", "userName", "innocent",
			"PolicyName", "p", "PolicyDocument", allow, "policyDocument", deny)
		if status != http.StatusOK {
			t.Fatalf("PutUserPolicy: %d %s", status, body)
		}
		var out struct {
			RequestID string `xml:"ResponseMetadata>RequestId"`
		}
		if err := xml.Unmarshal(body, &out); err != nil || out.RequestID == "" {
			t.Fatalf("no request ID in %s", body)
		}
		ev := jsonRecord(t, s, out.RequestID)
		if u, d := ev.RequestParameters["userName"], ev.RequestParameters["policyDocument"]; u != "victim" || d != allow {
			t.Fatalf("the call put %s on victim; its audit record says userName %v, policyDocument %v", allow, u, d)
		}
	}
	s.MustQuery(t, Admin, "iam", "Action", "GetUserPolicy", "UserName", "victim", "PolicyName", "p")
	if status, _ := s.Query(t, Admin, "iam", "Action", "GetUserPolicy", "UserName", "innocent", "PolicyName", "p"); status == http.StatusOK {
		t.Fatalf("innocent got a policy")
	}
}
