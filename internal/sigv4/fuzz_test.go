package sigv4

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=abcdef")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=0")
	f.Add("AWS4-HMAC-SHA256")
	f.Add("AWS4-X Credential=,, Signature==x")
	f.Fuzz(func(t *testing.T, h string) {
		a, msg := parseAuthorization(h)
		if msg == "" && (a.credential == "" || a.signature == "" || a.signedHeaders == "") {
			t.Fatalf("no error for missing parameter: %+v", a)
		}
		if msg == "" {
			// Round trip: a header rebuilt from the parts parses to the same parts.
			re := a.algorithm + " Credential=" + a.credential + ", SignedHeaders=" + a.signedHeaders + ", Signature=" + a.signature
			if !strings.ContainsAny(a.credential+a.signedHeaders+a.signature, ", ") {
				b, msg2 := parseAuthorization(re)
				if msg2 != "" || b != a {
					t.Fatalf("round trip: %+v -> %q -> %+v (%q)", a, re, b, msg2)
				}
			}
		}
		if sc, ok := parseScope(a.credential); ok {
			if got := strings.Join([]string{sc.accessKeyID, sc.date, sc.region, sc.service, sc.terminator}, "/"); got != a.credential {
				t.Fatalf("scope round trip: %q -> %q", a.credential, got)
			}
		}
	})
}

// FuzzVerify feeds arbitrary Authorization and date headers through Verify:
// it must never panic, never accept, and always answer with an AWS error.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20261123T103000Z")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/kms/aws4_request, SignedHeaders=HOST;;, Signature=zz", "")
	v := testVerifier(testNow)
	f.Fuzz(func(t *testing.T, auth, date string) {
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
		r.Header["Authorization"] = []string{auth}
		r.Header["X-Amz-Date"] = []string{date}
		_, err := v.Verify(context.Background(), r, []byte("{}"))
		if err == nil {
			t.Fatal("accepted a fuzzed signature")
		}
		if awserr.As(err) == nil {
			t.Fatalf("non-AWS error %v", err)
		}
	})
}
