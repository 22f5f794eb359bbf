package managed

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/policy"
)

func TestServicesCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Services {
		if !strings.HasPrefix(s.Alias, "alias/aws/") || seen[s.Alias] {
			t.Errorf("alias %q: not alias/aws/ or listed twice", s.Alias)
		}
		seen[s.Alias] = true
		doc := Policy(&s, "aws", "us-east-1", "111122223333")
		if !json.Valid([]byte(doc)) {
			t.Fatalf("%s: policy is not JSON:\n%s", s.Alias, doc)
		}
		if _, err := policy.Parse(doc); err != nil {
			t.Errorf("%s: policy does not parse: %v", s.Alias, err)
		}
		if !strings.Contains(doc, `"kms:ViaService" : "`+s.Via+`.us-east-1.amazonaws.com"`) {
			t.Errorf("%s: policy names no ViaService %s", s.Alias, s.Via)
		}
		if strings.Contains(doc, "kms:CreateGrant") != s.Grants {
			t.Errorf("%s: CreateGrant in policy is not %v", s.Alias, s.Grants)
		}
	}
}

// The policy allows use through the service for the account's callers
// only, and metadata reads to the account root; nothing else.
func TestPolicyDecisions(t *testing.T) {
	s := &Services[0]
	for _, x := range Services {
		if x.Alias == "alias/aws/s3" {
			s = &x
		}
	}
	p, err := policy.Parse(Policy(s, "aws", "us-east-1", "111122223333"))
	if err != nil {
		t.Fatal(err)
	}
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	via := policy.Values{}
	via.Set("kms:ViaService", "s3.us-east-1.amazonaws.com")
	other := policy.Values{}
	other.Set("kms:ViaService", "sqs.us-east-1.amazonaws.com")
	root := policy.Principal{ARN: "arn:aws:iam::111122223333:root", Account: "111122223333", Type: policy.TypeRoot}
	s3 := policy.Principal{ARN: "s3.amazonaws.com", Account: "111122223333", Type: policy.TypeAWSService}
	s3B := policy.Principal{ARN: "s3.amazonaws.com", Account: "444455556666", Type: policy.TypeAWSService}
	for _, c := range []struct {
		name   string
		p      policy.Principal
		action string
		ctx    policy.Context
		allow  bool
	}{
		{"ok/s3-encrypt", s3, "kms:Encrypt", via, true},
		{"ok/s3-generate", s3, "kms:GenerateDataKey", via, true},
		{"ok/root-describe", root, "kms:DescribeKey", nil, true},
		{"ok/root-get-policy", root, "kms:GetKeyPolicy", nil, true},
		{"fail/root-encrypt", root, "kms:Encrypt", nil, false},
		{"fail/s3-other-via", s3, "kms:Encrypt", other, false},
		{"fail/s3-no-via", s3, "kms:Encrypt", nil, false},
		{"fail/s3-other-account", s3B, "kms:Encrypt", via, false},
		{"fail/root-disable", root, "kms:DisableKey", nil, false},
		{"fail/root-put-policy", root, "kms:PutKeyPolicy", nil, false},
		{"fail/s3-create-grant", s3, "kms:CreateGrant", via, false},
	} {
		req := &policy.Request{Action: c.action, Resource: key, Principal: c.p, Context: c.ctx}
		err := policy.Authorize(req, policy.Input{KeyPolicy: p, KeyAccount: "111122223333"})
		if (err == nil) != c.allow {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
