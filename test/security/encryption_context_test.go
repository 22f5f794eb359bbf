package security

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
)

// The attack of issue 16 item 4: an encryption context whose keys collide
// under case folding ({dept: hr, Dept: finance}) against a grant
// constrained to {dept: finance} and against key policies with
// kms:EncryptionContext:dept conditions. Each call is sent 20 times and in
// both orders of the JSON members, so that an answer that depends on map
// order shows.

var ecAKID = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
var ecSecret = regexp.MustCompile(`<SecretAccessKey>([^<]+)</SecretAccessKey>`)

// ecUser creates an IAM user of account 1 without policies and returns its
// ARN and access key.
func ecUser(t *testing.T, s *Server, name string) (string, Creds) {
	t.Helper()
	s.MustQuery(t, Admin, "iam", "Action", "CreateUser", "UserName", name)
	body := s.MustQuery(t, Admin, "iam", "Action", "CreateAccessKey", "UserName", name)
	a, b := ecAKID.FindSubmatch(body), ecSecret.FindSubmatch(body)
	if a == nil || b == nil {
		t.Fatalf("CreateAccessKey: %s", body)
	}
	return "arn:aws:iam::" + account + ":user/" + name, Creds{AKID: string(a[1]), Secret: string(b[1])}
}

// ecBodies returns the JSON bodies of op on key with context pairs p1 and
// p2 (raw JSON members), in both member orders.
func ecBodies(op, key, p1, p2 string, extra string) []string {
	head := `{"KeyId":"` + key + `",`
	if op == "Decrypt" {
		head = `{`
	}
	return []string{
		head + extra + `"EncryptionContext":{` + p1 + `,` + p2 + `}}`,
		head + extra + `"EncryptionContext":{` + p2 + `,` + p1 + `}}`,
	}
}

// ecRefused sends every body 20 times as c and fails unless every answer
// is AccessDeniedException.
func ecRefused(t *testing.T, s *Server, c Creds, op string, bodies []string) {
	t.Helper()
	allowed := 0
	for _, b := range bodies {
		for i := 0; i < 20; i++ {
			r := s.Call(t, c, op, b)
			switch {
			case r.Status == http.StatusOK:
				allowed++
			case r.ErrorType != "AccessDeniedException":
				t.Fatalf("%s %s: %d %s %s", op, b, r.Status, r.ErrorType, r.Message)
			}
		}
	}
	if allowed > 0 {
		t.Fatalf("%s with a case-colliding context allowed %d of %d times", op, allowed, 20*len(bodies))
	}
}

func ecEncrypt(t *testing.T, s *Server, c Creds, key, ctxJSON string) string {
	t.Helper()
	r := s.Call(t, c, "Encrypt", `{"KeyId":"`+key+`","Plaintext":"aGVsbG8=","EncryptionContext":`+ctxJSON+`}`)
	if r.Status != http.StatusOK {
		t.Fatalf("Encrypt %s: %d %s %s", ctxJSON, r.Status, r.ErrorType, r.Message)
	}
	var out struct{ CiphertextBlob []byte }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out.CiphertextBlob)
}

// TestEncryptionContextCaseCollisionsUnderGrants: a grantee whose grant is
// constrained to {dept: finance} (EncryptionContextSubset or
// EncryptionContextEquals) can neither encrypt nor decrypt with
// {dept: hr, Dept: finance} or {dept: finance, Dept: finance}, on any of 20
// tries in either member order; {Dept: finance} alone is accepted, since
// grant constraints match keys without regard to case.
func TestEncryptionContextCaseCollisionsUnderGrants(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	bobARN, bob := ecUser(t, s, "bob")
	for _, constraint := range []string{"EncryptionContextSubset", "EncryptionContextEquals"} {
		t.Run(constraint, func(t *testing.T) {
			key := s.CreateKey(t, Admin, nil)
			r := s.Call(t, Admin, "CreateGrant", map[string]any{"KeyId": key, "GranteePrincipal": bobARN,
				"Operations": []string{"Encrypt", "Decrypt"}, "Constraints": map[string]any{constraint: map[string]string{"dept": "finance"}}})
			if r.Status != http.StatusOK {
				t.Fatalf("CreateGrant: %d %s", r.Status, r.Body)
			}
			var g struct{ GrantToken string }
			if err := json.Unmarshal(r.Body, &g); err != nil {
				t.Fatal(err)
			}
			tok := `"GrantTokens":["` + g.GrantToken + `"],`
			for _, pair := range [][2]string{
				{`"dept":"hr"`, `"Dept":"finance"`},
				{`"Dept":"hr"`, `"dept":"finance"`},
				{`"dept":"finance"`, `"Dept":"finance"`},
				{`"dept":"finance"`, `"DEPT":"finance"`},
			} {
				ctxJSON := `{` + pair[0] + `,` + pair[1] + `}`
				ecRefused(t, s, bob, "Encrypt", ecBodies("Encrypt", key, pair[0], pair[1], `"Plaintext":"aGVsbG8=",`+tok))
				blob := ecEncrypt(t, s, Admin, key, ctxJSON)
				ecRefused(t, s, bob, "Decrypt", ecBodies("Decrypt", key, pair[0], pair[1], `"CiphertextBlob":"`+blob+`",`+tok))
			}
			// The safe answer is not a blanket refusal: a lone key in
			// another case matches, as AWS documents for grant constraints.
			blob := ecEncrypt(t, s, bob, key, `{"Dept":"finance"}`)
			if r := s.Call(t, bob, "Decrypt", `{"CiphertextBlob":"`+blob+`","EncryptionContext":{"Dept":"finance"}}`); r.Status != http.StatusOK {
				t.Fatalf("Decrypt {Dept: finance} as the grantee: %d %s %s", r.Status, r.ErrorType, r.Message)
			}
			if r := s.Call(t, bob, "Encrypt", `{"KeyId":"`+key+`","Plaintext":"aGVsbG8=","EncryptionContext":{"dept":"Finance"}}`); r.ErrorType != "AccessDeniedException" {
				t.Fatalf("values match exactly: {dept: Finance} got %d %s", r.Status, r.ErrorType)
			}
		})
	}
}

// TestEncryptionContextCaseCollisionsUnderKeyPolicy: a key policy that
// allows bob only with kms:EncryptionContext:dept = finance never allows a
// context holding both dept and Dept, and a Deny on
// kms:EncryptionContext:class = secret always holds for a context holding
// class and Class, whichever of the two says "secret".
func TestEncryptionContextCaseCollisionsUnderKeyPolicy(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	bobARN, bob := ecUser(t, s, "bob")
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:EncryptionContext:dept":"finance"}}},
	 {"Effect":"Deny","Principal":"*","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:EncryptionContext:class":"secret"}}}]}`
	key := s.CreateKey(t, Admin, map[string]any{"Policy": policy})
	// Condition key names are case-insensitive: {Dept: finance} satisfies
	// kms:EncryptionContext:dept.
	ecEncrypt(t, s, bob, key, `{"Dept":"finance"}`)
	for _, pair := range [][2]string{{`"dept":"hr"`, `"Dept":"finance"`}, {`"dept":"finance"`, `"Dept":"finance"`}} {
		ecRefused(t, s, bob, "Encrypt", ecBodies("Encrypt", key, pair[0], pair[1], `"Plaintext":"aGVsbG8=",`))
		blob := ecEncrypt(t, s, Admin, key, `{`+pair[0]+`,`+pair[1]+`}`)
		ecRefused(t, s, bob, "Decrypt", ecBodies("Decrypt", key, pair[0], pair[1], `"CiphertextBlob":"`+blob+`",`))
	}
	for _, pair := range [][2]string{{`"class":"secret"`, `"Class":"public"`}, {`"Class":"secret"`, `"class":"public"`}} {
		ecRefused(t, s, Admin, "Encrypt", ecBodies("Encrypt", key, pair[0], pair[1], `"Plaintext":"aGVsbG8=",`))
	}
	ecEncrypt(t, s, Admin, key, `{"Class":"public","dept":"x"}`)
}
