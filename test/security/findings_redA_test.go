package security

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FINDING (red team A, not fixed: a design decision for the lead). A call
// that crosses accounts is recorded once, for the caller's account
// (recipientAccountId). AWS records it in both: "the CloudTrail log entries
// for the cross-account operations are recorded in both the caller's
// account and the KMS key owner's account", and an AssumeRole of another
// account's role is in the role owner's event history too. So the owner of
// a key that another account uses, or of a role another account assumes,
// cannot see who did it through LookupEvents: its own auditors miss every
// use of its keys from outside. Fixing it means either two records per
// cross-account call (the pipeline) or indexing records under the accounts
// of their resources too (audit.Index, with CloudTrailEvent then naming
// another recipient).
func TestFindingRedACrossAccountCallsInOwnersHistory(t *testing.T) {
	s := Start(t, Opts{Args: []string{"--metrics-listen", "off"}})
	other := isoCreateAccount(t, s, isoOther)
	pol := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + isoOther + `:root"},"Action":"kms:Encrypt","Resource":"*"}]}`
	keyID := s.CreateKey(t, Admin, map[string]any{"Policy": pol})
	keyARN := "arn:aws:kms:" + region + ":" + account + ":key/" + keyID
	r := s.Call(t, other, "Encrypt", map[string]any{"KeyId": keyARN, "Plaintext": base64.StdEncoding.EncodeToString([]byte("x"))})
	if r.Status != 200 {
		t.Fatalf("cross-account Encrypt: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "reda-shared", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+isoOther+`:root"},"Action":"sts:AssumeRole"}]}`)
	s.MustQuery(t, other, "sts", "Action", "AssumeRole", "RoleArn", "arn:aws:iam::"+account+":role/reda-shared", "RoleSessionName", "reda-x")

	find := func(attr, value string) bool {
		var out struct {
			Events []struct{ CloudTrailEvent string }
		}
		r := redATrail(t, s, Admin, "LookupEvents", fmt.Sprintf(`{"LookupAttributes":[{"AttributeKey":%q,"AttributeValue":%q}]}`, attr, value))
		if r.Status != 200 {
			t.Fatalf("LookupEvents: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
		json.Unmarshal(r.Body, &out)
		for _, e := range out.Events {
			if strings.Contains(e.CloudTrailEvent, `"accountId":"`+isoOther+`"`) {
				return true
			}
		}
		return false
	}
	time.Sleep(100 * time.Millisecond)
	if !find("ResourceName", keyARN) {
		t.Errorf("the key owner's LookupEvents does not show account %s's Encrypt with its key", isoOther)
	}
	if !find("EventName", "AssumeRole") {
		t.Errorf("the role owner's LookupEvents does not show account %s's AssumeRole of its role", isoOther)
	}
}
