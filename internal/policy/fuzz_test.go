package policy

import (
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

func seedDocs() []string {
	s := []string{defaultKP, doc(stAliceUse), doc(idAllowAll), `{"Statement":{}}`, `[]`, `{"Version":"2012-10-17","Statement":"x"}`}
	for _, tc := range matrixCases() {
		if tc.kp != "" {
			s = append(s, tc.kp)
		}
	}
	return s
}

// FuzzParse checks that Parse and ParseIdentity never panic, that every
// failure is a MalformedPolicyDocumentException, that parsing is
// deterministic, and that an accepted policy evaluates without panicking.
func FuzzParse(f *testing.F) {
	for _, d := range seedDocs() {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d string) {
		for _, parse := range []func(string) (*Policy, error){Parse, ParseIdentity} {
			p, err := parse(d)
			if err != nil {
				if awserr.CodeOf(err) != awserr.MalformedPolicyDocument {
					t.Fatalf("error %v is not MalformedPolicyDocumentException", err)
				}
				continue
			}
			p2, err := parse(d)
			if err != nil || len(p2.Statements) != len(p.Statements) {
				t.Fatalf("second parse differs: %v", err)
			}
			req := &Request{Action: "kms:Encrypt", Resource: keyARN, Principal: alice,
				Context: ctx("aws:SourceIp", "10.0.0.1", "kms:EncryptionContextKeys", []string{"a", "b"})}
			d1 := p.Evaluate(req, true)
			if d2 := p2.Evaluate(req, true); d1 != d2 {
				t.Fatalf("evaluation not deterministic: %v vs %v", d1, d2)
			}
			_ = WouldAllow(p, rootA, "kms:PutKeyPolicy")
		}
	})
}

// FuzzEvaluate checks that evaluation never panics for arbitrary request
// values, and that Authorize returns nil or an AccessDeniedException.
func FuzzEvaluate(f *testing.F) {
	kps := []*Policy{}
	for _, tc := range matrixCases() {
		if tc.kp == "" {
			continue
		}
		if p, err := Parse(tc.kp); err == nil {
			kps = append(kps, p)
		}
	}
	idp, _ := ParseIdentity(doc(idAllowAll, `{"Effect":"Deny","Action":"kms:Sign","Resource":"arn:aws:kms:*:*:key/${aws:username}*","Condition":{"StringLike":{"aws:ResourceTag/x":"${aws:userid}?"}}}`))
	f.Add(uint8(0), "kms:Encrypt", keyARN, "arn:aws:iam::111122223333:user/alice", "111122223333", "kms:EncryptionContext:Department", "IT")
	f.Add(uint8(7), "kms:*", "*", "", "", "aws:SourceIp", "::ffff:10.0.0.1")
	f.Add(uint8(9), "", "", "arn:aws:iam::444455556666:root", "444455556666", "aws:CurrentTime", "99999999999999999")
	f.Fuzz(func(t *testing.T, i uint8, action, resource, arn, account, key, val string) {
		p := kps[int(i)%len(kps)]
		for _, typ := range []PrincipalType{TypeRoot, TypeIAMUser, TypeAssumedRole, TypeAWSService} {
			req := &Request{Action: action, Resource: resource,
				Principal: Principal{ARN: arn, Account: account, Type: typ, RoleARN: arn, UserID: val},
				Context:   ctx(key, val, "aws:TagKeys", []string{val, key})}
			_ = p.Evaluate(req, true)
			_ = idp.Evaluate(req, false)
			err := Authorize(req, Input{KeyPolicy: p, KeyAccount: acctA, Identity: []*Policy{idp}})
			if err != nil && awserr.CodeOf(err) != awserr.AccessDenied {
				t.Fatalf("Authorize error %v", err)
			}
		}
	})
}
