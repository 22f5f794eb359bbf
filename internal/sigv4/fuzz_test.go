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

// FuzzUnsignedHeader checks the signed-headers rule against a plain
// reference: a request's Content-Type and X-Amz-* headers (any case) must
// all be in SignedHeaders (compared in any case); unsignedHeader names the
// smallest one that is not.
func FuzzUnsignedHeader(f *testing.F) {
	f.Add("content-type;host;x-amz-date;x-amz-target", "Content-Type\nHost\nX-Amz-Date\nX-Amz-Target\nUser-Agent")
	f.Add("host;x-amz-date", "Content-Type\nX-Amz-Target\nX-Amzn-Trace-Id")
	f.Add("HOST;X-AMZ-DATE;;", "x-amz-date\nX-AMZ-SECURITY-TOKEN\nx-amz-")
	f.Fuzz(func(t *testing.T, signed, names string) {
		a := authorization{signedHeaders: signed}
		list := strings.Split(names, "\n")
		got := a.unsignedHeader(list)
		in := map[string]bool{}
		for _, s := range strings.Split(signed, ";") {
			in[strings.ToLower(s)] = true
		}
		want := ""
		for _, n := range list {
			l := strings.ToLower(n)
			must := strings.HasPrefix(l, "x-amz-") || l == "content-type"
			if must && !in[l] && (want == "" || n < want) {
				want = n
			}
		}
		// strings.ToLower and EqualFold differ on a few non-ASCII runes;
		// header names are ASCII tokens, so only ASCII inputs are compared.
		if isASCII(signed+names) && got != want {
			t.Fatalf("unsignedHeader(%q, %q) = %q, want %q", signed, list, got, want)
		}
		if got != "" && (!mustSign(got) || a.signs(got)) {
			t.Fatalf("unsignedHeader named %q, which is signed or need not be", got)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzVerifyAddedHeader adds a header to a request signed as the SDKs sign
// it. The request must still verify unless the header is one that must be
// signed (Content-Type, X-Amz-*) or one the signature covers; then it must
// be refused with an AWS error, never accepted.
func FuzzVerifyAddedHeader(f *testing.F) {
	for _, n := range []string{"X-Amz-Target", "x-amz-foo", "Content-Type", "X-Amzn-Trace-Id", "User-Agent", "Host", "X-Amz-Date", "Amz-Sdk-Request", "X-Forwarded-For"} {
		f.Add(n, "v")
	}
	v := testVerifier(testNow)
	body := []byte(testBody)
	f.Fuzz(func(t *testing.T, name, value string) {
		if !validToken(name) || strings.ContainsAny(value, "\r\n\x00") {
			return
		}
		r := newKMSRequest(t, "Encrypt", testBody)
		sdkSign(t, r, body, testAKID, testSecret, "", "us-east-1", "kms", testNow)
		a, _ := parseAuthorization(r.Header.Get("Authorization"))
		key := http.CanonicalHeaderKey(name)
		if strings.EqualFold(name, "authorization") {
			return // a second Authorization header is not read
		}
		r.Header[key] = append(r.Header[key], value)
		_, err := v.Verify(context.Background(), r, body)
		l := strings.ToLower(name)
		switch {
		case strings.HasPrefix(l, "x-amz-") || l == "content-type" || a.signs(l):
			if err == nil {
				t.Fatalf("accepted a request with %s: %q added after signing", name, value)
			}
			if awserr.As(err) == nil {
				t.Fatalf("non-AWS error %v", err)
			}
		default:
			if err != nil {
				t.Fatalf("refused a request with an unsigned %s: %q: %v", name, value, err)
			}
		}
	})
}

// validToken reports whether s is a non-empty HTTP token (a header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
