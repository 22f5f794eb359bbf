package policy

import (
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		identity  bool
		wantMsg   string // "" means success
	}{
		{name: "ok/default-key-policy", doc: `{"Version":"2012-10-17","Id":"key-default-1","Statement":[` + stRootA + `]}`},
		{name: "ok/statement-object", doc: `{"Version":"2012-10-17","Statement":` + stRootA + `}`},
		{name: "ok/version-2008", doc: `{"Version":"2008-10-17","Statement":` + stRootA + `}`},
		{name: "ok/no-version", doc: `{"Statement":` + stRootA + `}`},
		{name: "ok/missing-resource-accepted", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*"}`)},
		{name: "ok/all-operators", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{
			"StringEquals":{"a":"b"},"StringNotEqualsIgnoreCase":{"a":"b"},"StringLikeIfExists":{"a":"b*"},
			"NumericLessThanEquals":{"n":"3.5"},"DateGreaterThan":{"d":"2020-01-01T00:00:00Z"},"DateEquals":{"d":1700000000},
			"Bool":{"b":true},"BinaryEquals":{"x":"QUJD"},"IpAddress":{"ip":["10.0.0.0/8","2001:db8::/32","192.0.2.1"]},
			"ArnNotLike":{"arn":"arn:aws:iam::*:role/*"},"Null":{"k":"true"},"ForAnyValue:StringLike":{"s":["a","b"]},
			"ForAllValues:NumericEqualsIfExists":{"n":[1,2]}}}`)},
		{name: "ok/identity-policy", doc: doc(idAllowAll), identity: true},
		{name: "ok/service-and-federated-principals", doc: doc(`{"Effect":"Allow","Principal":{"Service":["logs.amazonaws.com"],"Federated":"cognito-identity.amazonaws.com"},"Action":"kms:*","Resource":"*"}`)},
		{name: "fail/not-json", doc: `{"Version":`, wantMsg: MsgInvalidJSON},
		{name: "fail/trailing-garbage", doc: doc(stRootA) + `{}`, wantMsg: MsgInvalidJSON},
		{name: "fail/array-top-level", doc: `[]`, wantMsg: MsgInvalidJSON},
		{name: "fail/bad-version", doc: `{"Version":"2012-10-18","Statement":` + stRootA + `}`, wantMsg: MsgUnsupportedVersion},
		{name: "fail/unknown-top-level", doc: `{"Version":"2012-10-17","Statment":[]}`, wantMsg: msgUnknownElementPrefix + "Statment"},
		{name: "fail/unknown-statement-field", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Extra":1}`), wantMsg: msgUnknownElementPrefix + "Extra"},
		{name: "fail/no-statement", doc: `{"Version":"2012-10-17"}`, wantMsg: "The policy document must contain a Statement."},
		{name: "fail/bad-effect", doc: doc(`{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}`), wantMsg: `The Effect element must be "Allow" or "Deny".`},
		{name: "fail/missing-effect", doc: doc(`{"Principal":"*","Action":"kms:*","Resource":"*"}`), wantMsg: "Each statement must contain an Effect element."},
		{name: "fail/key-policy-without-principal", doc: doc(idAllowAll), wantMsg: MsgNoPrincipal},
		{name: "fail/identity-with-principal", doc: doc(stRootA), identity: true, wantMsg: MsgPrincipalInIdentity},
		{name: "fail/principal-bad-string", doc: doc(`{"Effect":"Allow","Principal":"alice","Action":"kms:*","Resource":"*"}`), wantMsg: MsgInvalidPrincipals},
		{name: "fail/principal-bad-arn", doc: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1234:user/x"},"Action":"kms:*","Resource":"*"}`), wantMsg: MsgInvalidPrincipals},
		{name: "fail/principal-wildcard-in-arn", doc: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*","Resource":"*"}`), wantMsg: MsgInvalidPrincipals},
		{name: "fail/principal-unknown-type", doc: doc(`{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"kms:*","Resource":"*"}`), wantMsg: MsgInvalidPrincipals},
		{name: "fail/principal-bad-service", doc: doc(`{"Effect":"Allow","Principal":{"Service":"logs"},"Action":"kms:*","Resource":"*"}`), wantMsg: MsgInvalidPrincipals},
		{name: "fail/principal-and-notprincipal", doc: doc(`{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"kms:*","Resource":"*"}`), wantMsg: "A statement cannot contain both Principal and NotPrincipal."},
		{name: "fail/action-and-notaction", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:x","Resource":"*"}`), wantMsg: "A statement cannot contain both Action and NotAction."},
		{name: "fail/action-without-service", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"Encrypt","Resource":"*"}`), wantMsg: "Actions must be of the form service:action or \"*\"."},
		{name: "fail/action-empty-array", doc: doc(`{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}`), wantMsg: "The Action element must be a string or a non-empty array of strings."},
		{name: "fail/unknown-operator", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringMatches":{"a":"b"}}}`), wantMsg: "The policy document contains an unsupported condition operator: StringMatches"},
		{name: "fail/null-ifexists", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"a":"true"}}}`), wantMsg: "The policy document contains an unsupported condition operator: NullIfExists"},
		{name: "fail/bad-number", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NumericEquals":{"a":"x"}}}`), wantMsg: "The policy document contains a condition value that is not valid for its operator."},
		{name: "fail/bad-cidr", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"a":"10.0.0.0/40"}}}`), wantMsg: "The policy document contains a condition value that is not valid for its operator."},
		{name: "fail/condition-object-value", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a":{"b":"c"}}}}`), wantMsg: "Condition values must be strings, numbers or booleans, or a non-empty array of them."},
		{name: "fail/duplicate-sid", doc: doc(stRootA, stRootA), wantMsg: MsgDuplicateSid},
		{name: "fail/duplicate-effect", doc: doc(`{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`), wantMsg: MsgDuplicateKey},
		{name: "fail/duplicate-condition-operator", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"1"},"StringEquals":{"kms:CallerAccount":"2"}}}`), wantMsg: MsgDuplicateKey},
		{name: "fail/duplicate-condition-key", doc: doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"1","kms:CallerAccount":"2"}}}`), wantMsg: MsgDuplicateKey},
		{name: "fail/duplicate-top-level", doc: `{"Version":"2012-10-17","Version":"2008-10-17","Statement":` + stRootA + `}`, wantMsg: MsgDuplicateKey},
		{name: "fail/duplicate-identity", doc: doc(`{"Effect":"Allow","Action":"kms:Decrypt","Action":"kms:*","Resource":"*"}`), identity: true, wantMsg: MsgDuplicateKey},
		// Key policy Sids may hold spaces and punctuation (AWS's default
		// key policy's do); IAM policy Sids only ASCII letters and digits.
		{name: "ok/key-policy-sid-punctuation", doc: doc(`{"Sid":"Allow use of the key (app-1_x.y/z)","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`)},
		{name: "ok/identity-sid-alphanumeric", doc: doc(`{"Sid":"AllowUse1","Effect":"Allow","Action":"kms:*","Resource":"*"}`), identity: true},
		{name: "ok/identity-sid-empty", doc: doc(`{"Sid":"","Effect":"Allow","Action":"kms:*","Resource":"*"}`), identity: true},
		{name: "fail/identity-sid-space", doc: doc(`{"Sid":"Allow use","Effect":"Allow","Action":"kms:*","Resource":"*"}`), identity: true, wantMsg: MsgSidNotAlphanumeric},
		{name: "fail/identity-sid-hyphen", doc: doc(`{"Sid":"allow-use","Effect":"Allow","Action":"kms:*","Resource":"*"}`), identity: true, wantMsg: MsgSidNotAlphanumeric},
		{name: "fail/identity-sid-non-ascii", doc: doc(`{"Sid":"Allowé","Effect":"Allow","Action":"kms:*","Resource":"*"}`), identity: true, wantMsg: MsgSidNotAlphanumeric},
		{name: "fail/control-character", doc: doc(stRootA) + "\x01", wantMsg: MsgInvalidCharacters},
		{name: "fail/non-latin1", doc: `{"Version":"2012-10-17","Id":"ключ","Statement":` + stRootA + `}`, wantMsg: MsgInvalidCharacters},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parse := Parse
			if tc.identity {
				parse = ParseIdentity
			}
			p, err := parse(tc.doc)
			if tc.wantMsg == "" {
				if err != nil || p == nil {
					t.Fatalf("Parse = %v, want success", err)
				}
				return
			}
			e := awserr.As(err)
			if e == nil || e.Code != awserr.MalformedPolicyDocument || e.Message != tc.wantMsg {
				t.Fatalf("Parse = %v, want MalformedPolicyDocumentException: %s", err, tc.wantMsg)
			}
		})
	}
}

func TestDenyMessages(t *testing.T) {
	t.Parallel()
	const u, a, r = "arn:aws:iam::111122223333:user/alice", "kms:Encrypt", keyARN
	cases := []struct {
		name string
		err  *awserr.Error
		want string
	}{
		{"ok/no-resource-policy", DenyNoResourcePolicy(u, a, r), "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: " + keyARN + " because no resource-based policy allows the kms:Encrypt action"},
		{"ok/no-identity-policy", DenyNoIdentityPolicy(u, "kms:CreateKey", "*"), "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action"},
		{"ok/explicit-resource", DenyExplicitResource(u, a, r), "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: " + keyARN + " with an explicit deny in a resource-based policy"},
		{"ok/explicit-identity", DenyExplicitIdentity(u, a, r), "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: " + keyARN + " with an explicit deny in an identity-based policy"},
	}
	for _, tc := range cases {
		if tc.err.Code != awserr.AccessDenied || tc.err.Message != tc.want {
			t.Errorf("%s: got %q", tc.name, tc.err.Message)
		}
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	kp, err := Parse(doc(stAliceUse, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		req      Request
		resource bool
		want     Decision
	}{
		{"ok/allow", Request{Action: "kms:Encrypt", Resource: keyARN, Principal: alice}, true, Allow},
		{"ok/identity-mode-ignores-principal", Request{Action: "kms:Encrypt", Resource: keyARN, Principal: bob}, false, Allow},
		{"fail/not-applicable", Request{Action: "kms:Encrypt", Resource: keyARN, Principal: bob}, true, NotApplicable},
		{"fail/deny", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice, Context: ctx("aws:SecureTransport", "false")}, true, Deny},
		{"ok/deny-condition-unmet", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice, Context: ctx("aws:SecureTransport", "true")}, true, Allow},
	}
	for _, tc := range cases {
		if got := kp.Evaluate(&tc.req, tc.resource); got != tc.want {
			t.Errorf("%s: Evaluate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWouldAllow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		doc  string
		who  Principal
		want bool
	}{
		{"ok/default-policy-root", defaultKP, rootA, true},
		{"ok/default-policy-user-delegated", defaultKP, alice, true},
		{"ok/admin-role-session", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:Put*","Resource":"*"}`), admin, true},
		{"ok/conditional-allow-is-optimistic", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`), alice, true},
		{"ok/conditional-deny-ignored", doc(stRootA, `{"Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}`), alice, true},
		{"fail/other-user-only", doc(stAliceUse), bob, false},
		{"fail/user-lacks-putkeypolicy", doc(stAliceUse), alice, false},
		{"fail/unconditional-deny", doc(stRootA, `{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:PutKeyPolicy","Resource":"*"}`), alice, false},
		{"fail/other-account-root", doc(stCrossBAll), alice, false},
	}
	for _, tc := range cases {
		p, err := Parse(tc.doc)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := WouldAllow(p, tc.who, "kms:PutKeyPolicy"); got != tc.want {
			t.Errorf("%s: WouldAllow = %v, want %v", tc.name, got, tc.want)
		}
	}
	if WouldAllow(nil, alice, "kms:PutKeyPolicy") {
		t.Error("WouldAllow(nil) = true")
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"*", "", false, true},
		{"kms:*", "kms:Encrypt", false, true},
		{"kms:Gen*Key", "kms:GenerateDataKey", false, true},
		{"kms:Gen*Key", "kms:GenerateDataKeyPair", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
		{"KMS:ENCRYPT", "kms:encrypt", true, true},
		{"KMS:ENCRYPT", "kms:encrypt", false, false},
		{"a\x00*b", "a*b", false, true},
		{"a\x00*b", "axb", false, false},
	}
	for _, tc := range cases {
		if got := glob(tc.pat, tc.s, tc.fold); got != tc.want {
			t.Errorf("glob(%q, %q, %v) = %v, want %v", tc.pat, tc.s, tc.fold, got, tc.want)
		}
	}
}

func TestConditionSemantics(t *testing.T) {
	t.Parallel()
	// Each case: operator block, context, expected result of the condition.
	cases := []struct {
		name, cond string
		ctx        Values
		want       bool
	}{
		{"ok/stringnotequals-missing-key-true", `{"StringNotEquals":{"k":"a"}}`, nil, true},
		{"fail/stringnotequals-any-value-matches", `{"StringNotEquals":{"k":"a"}}`, ctx("k", []string{"b", "a"}), false},
		{"ok/forallvalues-stringnotequals", `{"ForAllValues:StringNotEquals":{"k":["a","b"]}}`, ctx("k", []string{"c", "d"}), true},
		{"fail/forallvalues-stringnotequals-one-hit", `{"ForAllValues:StringNotEquals":{"k":["a","b"]}}`, ctx("k", []string{"c", "a"}), false},
		{"ok/foranyvalue-stringnotequals", `{"ForAnyValue:StringNotEquals":{"k":["a"]}}`, ctx("k", []string{"a", "z"}), true},
		{"fail/foranyvalue-missing", `{"ForAnyValue:StringNotEquals":{"k":["a"]}}`, nil, false},
		{"ok/null-false-present", `{"Null":{"k":"false"}}`, ctx("k", "x"), true},
		{"fail/null-true-present", `{"Null":{"k":"true"}}`, ctx("k", "x"), false},
		{"ok/ipv6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx("aws:SourceIp", "2001:db8::1"), true},
		{"fail/ip-garbage", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctx("aws:SourceIp", "not-an-ip"), false},
		{"ok/date-epoch", `{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "1700000000"), true},
		{"ok/numeric-float", `{"NumericLessThan":{"n":2.5}}`, ctx("n", "2"), true},
		{"fail/numeric-not-number", `{"NumericLessThan":{"n":2.5}}`, ctx("n", "two"), false},
		{"ok/numeric-not-equals-missing", `{"NumericNotEquals":{"n":1}}`, nil, true},
		{"ok/arnequals-wildcard-region", `{"ArnEquals":{"a":"arn:aws:kms:*:111122223333:key/*"}}`, ctx("a", keyARN), true},
		{"fail/arn-too-few-fields", `{"ArnLike":{"a":"arn:aws:kms:*:111122223333:key/*"}}`, ctx("a", "arn:aws:kms"), false},
		{"ok/variable-literal-star", `{"StringEquals":{"k":"a${*}b"}}`, ctx("k", "a*b"), true},
		{"fail/variable-literal-star-in-like", `{"StringLike":{"k":"a${*}b"}}`, ctx("k", "axb"), false},
		{"ok/variable-dollar", `{"StringEquals":{"k":"${$}x"}}`, ctx("k", "$x"), true},
		{"ok/variable-default", `{"StringEquals":{"k":"${aws:PrincipalTag/none, 'dflt'}"}}`, ctx("k", "dflt"), true},
		{"fail/variable-unresolved", `{"StringEquals":{"k":"${aws:PrincipalTag/none}"}}`, ctx("k", ""), false},
		{"ok/variable-userid", `{"StringLike":{"k":"${aws:userid}/*"}}`, ctx("k", "AIDAALICE/sub"), true},
		{"ok/binary", `{"BinaryEquals":{"k":"QUJD"}}`, ctx("k", "QUJD"), true},
	}
	for _, tc := range cases {
		p, err := Parse(doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":` + tc.cond + `}`))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		req := &Request{Action: "kms:Encrypt", Resource: keyARN, Principal: alice}
		if tc.ctx != nil {
			req.Context = tc.ctx
		}
		if got := p.Evaluate(req, true) == Allow; got != tc.want {
			t.Errorf("%s: condition = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Under Version 2008-10-17 variables are literal text.
	p, err := Parse(`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"k":"${aws:username}"}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Principal: alice, Context: ctx("k", "${aws:username}")}, true) != Allow {
		t.Error("2008-10-17 policy substituted a variable")
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	c := NewCache(2)
	p1, err := c.Parse(defaultKP)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := c.Parse(defaultKP)
	if p1 != p2 {
		t.Error("cache returned a different *Policy for the same document")
	}
	if _, err := c.Parse(doc(idAllowAll)); err == nil {
		t.Error("cache accepted a key policy without principal")
	}
	if _, err := c.ParseIdentity(doc(idAllowAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ParseIdentity(doc(idDenyEnc)); err != nil {
		t.Fatal(err)
	}
	if n := c.Len(); n != 2 {
		t.Errorf("Len = %d, want 2 (bounded)", n)
	}
	if !strings.Contains(doc(idAllowAll), "kms:*") {
		t.Fatal("fixture changed")
	}
}

func TestCrossAccountAndIAMOnlyTables(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptTo", "kms:CreateGrant", "kms:RetireGrant", "kms:RevokeGrant", "kms:ListGrants", "kms:GetKeyRotationStatus", "kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:VerifyMac"} {
		if !CrossAccountAllowed(a) {
			t.Errorf("CrossAccountAllowed(%s) = false", a)
		}
	}
	for _, a := range []string{"kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:TagResource", "kms:CreateAlias", "kms:GetKeyLastUsage", "kms:CreateKey", "kms:encrypt"} {
		if CrossAccountAllowed(a) {
			t.Errorf("CrossAccountAllowed(%s) = true", a)
		}
	}
	if !IAMOnly("kms:CreateKey") || !IAMOnly("kms:GenerateRandom") || IAMOnly("kms:Encrypt") {
		t.Error("IAMOnly table wrong")
	}
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := NewCache(4)
	docs := []string{defaultKP, doc(stAliceUse), doc(stAllowAll), doc(stRootA, stCrossB), doc(stCrossBAll), doc(stRootA, stAliceUse)}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			ok := true
			for i := 0; i < 200; i++ {
				p, err := c.Parse(docs[(g+i)%len(docs)])
				if err != nil || p.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Principal: rootB}, true) == Deny {
					ok = false
				}
			}
			done <- ok
		}(g)
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("concurrent Parse/Evaluate failed")
		}
	}
	if c.Len() > 4 {
		t.Errorf("Len = %d exceeds bound 4", c.Len())
	}
}
