package policy

import "testing"

func benchAuthorize(b *testing.B, kpDoc string, identity []string, req *Request) {
	kp, err := Parse(kpDoc)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{KeyPolicy: kp, KeyAccount: acctA}
	for _, d := range identity {
		ip, err := ParseIdentity(d)
		if err != nil {
			b.Fatal(err)
		}
		in.Identity = append(in.Identity, ip)
	}
	if err := Authorize(req, in); err != nil {
		b.Fatalf("benchmark request denied: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if Authorize(req, in) != nil {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAuthorizeDefaultPolicy: the API default key policy, a user whose
// identity policy allows kms:* on keys of the account.
func BenchmarkAuthorizeDefaultPolicy(b *testing.B) {
	benchAuthorize(b, defaultKP,
		[]string{doc(`{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/*"}`)},
		&Request{Action: "kms:Encrypt", Resource: keyARN, Principal: alice, Context: ctx("kms:EncryptionContext:app", "billing")})
}

// tenStatements is a 10-statement key policy with conditions in most
// statements, the matching one last.
var tenStatements = doc(
	stRootA,
	`{"Sid":"admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*"],"Resource":"*"}`,
	`{"Sid":"deny-insecure","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
	`{"Sid":"deny-outside","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}`,
	`{"Sid":"svc","Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:GenerateDataKey*","Resource":"*","Condition":{"ArnLike":{"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:us-east-1:111122223333:*"}}}`,
	`{"Sid":"grants","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}`,
	`{"Sid":"tags","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:TagResource","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["Env","Owner"]}}}`,
	`{"Sid":"via","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"},"StringLike":{"kms:ViaService":"ec2.*.amazonaws.com"}}}`,
	`{"Sid":"time","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:Sign","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}`,
	`{"Sid":"use","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":["billing","payroll"],"aws:ResourceTag/Project":"blue"},"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app","tenant"]}}}`,
)

// BenchmarkAuthorizeTenStatements: a 10-statement policy with conditions.
func BenchmarkAuthorizeTenStatements(b *testing.B) {
	benchAuthorize(b, tenStatements, nil, &Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice,
		Context: ctx("aws:SecureTransport", "true", "aws:SourceIp", "10.1.2.3", "kms:EncryptionContext:app", "billing",
			"aws:ResourceTag/Project", "blue", "kms:EncryptionContextKeys", []string{"app"})})
}

// BenchmarkEvaluateDefaultPolicy is the bare key-policy evaluation.
func BenchmarkEvaluateDefaultPolicy(b *testing.B) {
	kp, _ := Parse(defaultKP)
	req := &Request{Action: "kms:Encrypt", Resource: keyARN, Principal: rootA}
	b.ReportAllocs()
	for b.Loop() {
		if kp.Evaluate(req, true) != Allow {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkParseDefaultPolicy measures a cache miss.
func BenchmarkParseDefaultPolicy(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(defaultKP); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHit measures a cache hit on the 10-statement policy.
func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(128)
	if _, err := c.Parse(tenStatements); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Parse(tenStatements); err != nil {
			b.Fatal(err)
		}
	}
}
