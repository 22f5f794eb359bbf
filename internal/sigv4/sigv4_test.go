package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/trentkms/trent/internal/awserr"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	tempAKID   = "ASIATEMPEXAMPLE"
	tempSecret = "tempSecretKeyEXAMPLEtempSecretKeyEXAMPLE"
	tempToken  = "FQoGZXIvYXdzEXAMPLETOKEN"
)

var testNow = time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)

func testVerifier(now time.Time) *Verifier {
	return &Verifier{
		Source: StaticCredentials{
			testAKID: {Key: []byte(testSecret)},
			tempAKID: {Key: []byte(tempSecret), SessionToken: tempToken, Expires: testNow.Add(time.Hour)},
		},
		Region:   "us-east-1",
		Services: []string{"kms"},
		Now:      func() time.Time { return now },
	}
}

const testBody = `{"KeyId":"alias/test","Plaintext":"aGVsbG8gd29ybGQ="}`

func newKMSRequest(t testing.TB, target, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService."+target)
	return r
}

// sdkSign signs r with aws-sdk-go-v2's signer, the independent reference.
func sdkSign(t testing.TB, r *http.Request, body []byte, akid, secret, token, region, service string, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	e := awserr.As(err)
	if e == nil {
		t.Fatalf("error = %v, want *awserr.Error %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%q), want %s", e.Code, e.Message, code)
	}
	if msg != "" && e.Message != msg {
		t.Fatalf("message = %q, want %q", e.Message, msg)
	}
}

func TestVerifySDKSigned(t *testing.T) {
	t.Parallel()
	signedAt := testNow.Add(-time.Minute)
	body := []byte(testBody)
	tests := []struct {
		name    string
		akid    string
		secret  string
		token   string
		region  string
		service string
		at      time.Time
		before  func(r *http.Request)        // changes the request before it is signed
		tamper  func(r *http.Request) []byte // returns the body the server sees
		code    string
		msg     string
	}{
		{name: "ok/plain"},
		{name: "ok/session-token", akid: tempAKID, secret: tempSecret, token: tempToken},
		{name: "ok/skew-at-limit", at: testNow.Add(-5 * time.Minute)},
		{name: "ok/future-at-limit", at: testNow.Add(5 * time.Minute)},
		{name: "ok/content-sha256-header", tamper: func(r *http.Request) []byte {
			return body // header is set and signed below for this case
		}},
		{name: "fail/tampered-body", tamper: func(r *http.Request) []byte {
			return []byte(strings.Replace(testBody, "alias/test", "alias/evil", 1))
		}, code: awserr.InvalidSignature, msg: msgSignatureInvalid},
		{name: "fail/tampered-header", tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Target", "TrentService.Decrypt")
			return body
		}, code: awserr.InvalidSignature, msg: msgSignatureInvalid},
		{name: "fail/tampered-date", tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Date", signedAt.Add(time.Second).Format(TimeFormat))
			return body
		}, code: awserr.InvalidSignature, msg: msgSignatureInvalid},
		{name: "fail/tampered-signature", tamper: func(r *http.Request) []byte {
			a := r.Header.Get("Authorization")
			i := len(a) - 1
			c := byte('0')
			if a[i] == '0' {
				c = '1'
			}
			r.Header.Set("Authorization", a[:i]+string(c))
			return body
		}, code: awserr.InvalidSignature, msg: msgSignatureInvalid},
		{name: "fail/tampered-host", tamper: func(r *http.Request) []byte {
			r.Host = "127.0.0.1:4600"
			return body
		}, code: awserr.InvalidSignature, msg: msgSignatureInvalid},
		{name: "fail/content-sha256-mismatch", before: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
		}, code: awserr.InvalidSignature, msg: msgSignatureInvalid},
		{name: "fail/content-sha256-unsigned", tamper: func(r *http.Request) []byte {
			sum := sha256.Sum256(body)
			r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			return body
		}, code: awserr.InvalidSignature, msg: "'X-Amz-Content-Sha256' must be a 'SignedHeader' in the AWS Authorization."},
		// A signature over host and x-amz-date only, replayed with the
		// operation of the attacker's choice.
		{name: "fail/target-unsigned", before: func(r *http.Request) { r.Header.Del("X-Amz-Target") },
			tamper: func(r *http.Request) []byte {
				r.Header.Set("X-Amz-Target", "TrentService.DisableKey")
				return body
			}, code: awserr.InvalidSignature, msg: "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/content-type-unsigned", before: func(r *http.Request) { r.Header.Del("Content-Type") },
			tamper: func(r *http.Request) []byte {
				r.Header.Set("Content-Type", "application/x-amz-json-1.1")
				return body
			}, code: awserr.InvalidSignature, msg: "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/lower-case-unsigned", before: func(r *http.Request) { r.Header.Del("X-Amz-Target") },
			tamper: func(r *http.Request) []byte {
				r.Header["x-amz-target"] = []string{"TrentService.DisableKey"}
				return body
			}, code: awserr.InvalidSignature, msg: "'x-amz-target' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/extra-amz-header-unsigned", tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Meta-Evil", "1")
			return body
		}, code: awserr.InvalidSignature, msg: "'X-Amz-Meta-Evil' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/several-unsigned-smallest-named", tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Zz", "1")
			r.Header.Set("X-Amz-Aa", "1")
			r.Header.Set("X-Amz-Mm", "1")
			return body
		}, code: awserr.InvalidSignature, msg: "'X-Amz-Aa' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/session-token-unsigned", akid: tempAKID, secret: tempSecret, tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Security-Token", tempToken)
			return body
		}, code: awserr.InvalidSignature, msg: "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."},
		// Headers that SDKs leave unsigned and proxies add may stay unsigned.
		{name: "ok/unsigned-non-amz-headers", tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
			r.Header.Set("User-Agent", "aws-sdk-go-v2/1.47.7")
			r.Header.Set("Amz-Sdk-Invocation-Id", "b0e1c5a2-6c8e-4f5e-9f57-0d6f4e7f2c11")
			r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
			r.Header.Set("X-Forwarded-For", "192.0.2.1")
			return body
		}},
		{name: "fail/wrong-secret", secret: "x" + testSecret[1:], code: awserr.InvalidSignature, msg: msgSignatureInvalid},
		{name: "fail/unknown-key", akid: "AKIDUNKNOWN", code: awserr.UnrecognizedClient, msg: msgInvalidToken},
		{name: "fail/wrong-region", region: "eu-west-1", code: awserr.InvalidSignature, msg: "Credential should be scoped to a valid region. "},
		{name: "fail/wrong-service", service: "s3", code: awserr.InvalidSignature, msg: "Credential should be scoped to correct service: 'kms'. "},
		{name: "fail/expired-signature", at: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), code: awserr.InvalidSignature,
			msg: "Signature expired: 20261123T100000Z is now earlier than 20261123T102500Z (20261123T103000Z - 5 min.)"},
		{name: "fail/future-signature", at: time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC), code: awserr.InvalidSignature,
			msg: "Signature not yet current: 20261123T110000Z is still later than 20261123T103500Z (20261123T103000Z + 5 min.)"},
		{name: "fail/session-token-missing", akid: tempAKID, secret: tempSecret, code: awserr.UnrecognizedClient, msg: msgInvalidToken},
		{name: "fail/session-token-wrong", akid: tempAKID, secret: tempSecret, token: tempToken + "x", code: awserr.UnrecognizedClient, msg: msgInvalidToken},
		{name: "fail/session-token-on-permanent-key", token: tempToken, code: awserr.UnrecognizedClient, msg: msgInvalidToken},
		{name: "fail/no-authorization", tamper: func(r *http.Request) []byte {
			r.Header.Del("Authorization")
			return body
		}, code: awserr.MissingAuthenticationToken, msg: "Missing Authentication Token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			akid, secret, region, service, at := tc.akid, tc.secret, tc.region, tc.service, tc.at
			if akid == "" {
				akid = testAKID
			}
			if secret == "" {
				secret = testSecret
			}
			if region == "" {
				region = "us-east-1"
			}
			if service == "" {
				service = "kms"
			}
			if at.IsZero() {
				at = signedAt
			}
			r := newKMSRequest(t, "Encrypt", testBody)
			if tc.name == "ok/content-sha256-header" {
				sum := sha256.Sum256(body)
				r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			}
			if tc.before != nil {
				tc.before(r)
			}
			sdkSign(t, r, body, akid, secret, tc.token, region, service, at)
			got := body
			if tc.tamper != nil {
				got = tc.tamper(r)
			}
			res, err := testVerifier(testNow).Verify(context.Background(), r, got)
			if tc.code != "" {
				wantCode(t, err, tc.code, tc.msg)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKeyID != akid || res.Region != region || res.Service != service || !res.SignedAt.Equal(at.Truncate(time.Second)) || res.SessionToken != tc.token {
				t.Fatalf("result = %+v", res)
			}
		})
	}
}

// TestVerifyHostAndDate: under SignHostAndDate a signature over
// host;x-amz-date verifies with Content-Type and other headers unsigned, as
// AWS KMS signs its calls to an XKS proxy (XKS proxy API, appendix A); the
// default rule refuses the same request, and X-Amz-Date must be signed.
func TestVerifyHostAndDate(t *testing.T) {
	t.Parallel()
	body := []byte(`{"requestMetadata":{"kmsOperation":"KmsHealthCheck","kmsRequestId":"r1"}}`)
	// awsKMS signs as AWS KMS does: host and x-amz-date only (the SDK signs
	// every header present, and Content-Length when it is not zero).
	awsKMS := func(t *testing.T) *http.Request {
		r, err := http.NewRequest(http.MethodPost, "https://xks.example.com/tenant/kms/xks/v1/health", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		n := r.ContentLength
		r.ContentLength = 0
		sdkSign(t, r, body, testAKID, testSecret, "", "us-east-1", "kms-xks-proxy", testNow)
		r.ContentLength = n
		if a := r.Header.Get("Authorization"); !strings.Contains(a, "SignedHeaders=host;x-amz-date,") {
			t.Fatalf("not signed as AWS KMS signs: %s", a)
		}
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	tests := []struct {
		name      string
		rule      HeaderRule
		tamper    func(r *http.Request)
		code, msg string
	}{
		{name: "ok/aws-kms-request", rule: SignHostAndDate},
		{name: "ok/unsigned-amz-header", rule: SignHostAndDate, tamper: func(r *http.Request) { r.Header.Set("X-Amz-Meta", "1") }},
		{name: "fail/same-request-default-rule", rule: SignSDKHeaders,
			code: awserr.InvalidSignature, msg: "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/date-unsigned", rule: SignHostAndDate, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=host;x-amz-date,", "SignedHeaders=host,", 1))
		}, code: awserr.InvalidSignature, msg: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/date-header-not-read", rule: SignHostAndDate, tamper: func(r *http.Request) {
			r.Header.Set("Date", r.Header.Get("X-Amz-Date"))
			r.Header.Del("X-Amz-Date")
		}, code: awserr.IncompleteSignature},
		{name: "fail/tampered-path", rule: SignHostAndDate, tamper: func(r *http.Request) { r.URL.Path = "/tenant/kms/xks/v1/keys/k/decrypt" },
			code: awserr.InvalidSignature, msg: msgSignatureInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := awsKMS(t)
			if tc.tamper != nil {
				tc.tamper(r)
			}
			v := &Verifier{Source: StaticCredentials{testAKID: {Key: []byte(testSecret)}}, Region: "us-east-1",
				Services: []string{"kms-xks-proxy"}, MustSign: tc.rule, Now: func() time.Time { return testNow }}
			res, err := v.Verify(context.Background(), r, body)
			if tc.code != "" {
				wantCode(t, err, tc.code, tc.msg)
				return
			}
			if err != nil || res.AccessKeyID != testAKID || res.Service != "kms-xks-proxy" {
				t.Fatalf("Verify = %+v, %v", res, err)
			}
		})
	}
}

func TestVerifyExpiredToken(t *testing.T) {
	t.Parallel()
	now := testNow.Add(2 * time.Hour) // tempAKID expires at testNow+1h
	r := newKMSRequest(t, "Encrypt", testBody)
	sdkSign(t, r, []byte(testBody), tempAKID, tempSecret, tempToken, "us-east-1", "kms", now)
	_, err := testVerifier(now).Verify(context.Background(), r, []byte(testBody))
	wantCode(t, err, awserr.ExpiredToken, "The security token included in the request is expired")
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	date := testNow.Format(TimeFormat)
	good := "Credential=" + testAKID + "/20261123/us-east-1/kms/aws4_request"
	tests := []struct {
		name string
		auth string
		date string
		code string
		msg  string
	}{
		{name: "fail/not-aws4", auth: "Bearer abc", code: awserr.MissingAuthenticationToken, msg: "Missing Authentication Token"},
		{name: "fail/missing-signature", auth: "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host",
			code: awserr.IncompleteSignature,
			msg:  "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host"},
		{name: "fail/missing-all", auth: "AWS4-HMAC-SHA256", date: "-",
			code: awserr.IncompleteSignature,
			msg:  "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"},
		{name: "fail/bad-date", auth: "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host, Signature=00", date: "2026",
			code: awserr.IncompleteSignature, msg: "Date must be in ISO-8601 'basic format'. Got '2026'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{name: "fail/host-not-signed", auth: "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=x-amz-date, Signature=00",
			code: awserr.InvalidSignature, msg: msgHostNotSigned},
		{name: "fail/algorithm", auth: "AWS4-HMAC-SHA512 " + good + ", SignedHeaders=host, Signature=00",
			code: awserr.IncompleteSignature, msg: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "},
		{name: "fail/short-credential", auth: "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/kms, SignedHeaders=host, Signature=00",
			code: awserr.IncompleteSignature, msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKID/20261123/us-east-1/kms'"},
		{name: "fail/scope-all-wrong", auth: "AWS4-HMAC-SHA256 Credential=AKID/20261122/eu-west-1/s3/aws4_reques, SignedHeaders=host, Signature=00",
			code: awserr.InvalidSignature,
			msg:  "Credential should be scoped to a valid region. Credential should be scoped to correct service: 'kms'. Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reques'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261122' != '20261123', from '20261123T103000Z'."},
		{name: "fail/host-date-only-signed", auth: "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host;x-amz-date, Signature=00",
			code: awserr.InvalidSignature, msg: "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/target-not-signed", auth: "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=content-type;host;x-amz-date, Signature=00",
			code: awserr.InvalidSignature, msg: "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/date-not-signed", auth: "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=content-type;host;x-amz-target, Signature=00",
			code: awserr.InvalidSignature, msg: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/bad-signature-length", auth: "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=Content-Type;host;X-AMZ-DATE;x-amz-target, Signature=00",
			code: awserr.InvalidSignature, msg: msgSignatureInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newKMSRequest(t, "Encrypt", testBody)
			r.Header.Set("Authorization", tc.auth)
			switch tc.date {
			case "":
				r.Header.Set("X-Amz-Date", date)
			case "-":
			default:
				r.Header.Set("X-Amz-Date", tc.date)
			}
			_, err := testVerifier(testNow).Verify(context.Background(), r, []byte(testBody))
			wantCode(t, err, tc.code, tc.msg)
		})
	}
}

func TestVerifyLookupError(t *testing.T) {
	t.Parallel()
	boom := errors.New("store down")
	v := testVerifier(testNow)
	v.Source = sourceFunc(func(context.Context, string) (Secret, error) { return Secret{}, boom })
	r := newKMSRequest(t, "Encrypt", testBody)
	sdkSign(t, r, []byte(testBody), testAKID, testSecret, "", "us-east-1", "kms", testNow)
	_, err := v.Verify(context.Background(), r, []byte(testBody))
	if !errors.Is(err, boom) || awserr.As(err) != nil {
		t.Fatalf("err = %v, want wrapped store error", err)
	}
}

type sourceFunc func(context.Context, string) (Secret, error)

func (f sourceFunc) Lookup(ctx context.Context, id string) (Secret, error) { return f(ctx, id) }

// TestVerifyRotatedSecret checks that a cached signing key is not reused
// after the secret behind an access key changes.
func TestVerifyRotatedSecret(t *testing.T) {
	t.Parallel()
	secret := testSecret
	v := testVerifier(testNow)
	v.Source = sourceFunc(func(context.Context, string) (Secret, error) { return Secret{Key: []byte(secret)}, nil })
	for i, tc := range []struct {
		name, signWith, current string
		ok                      bool
	}{
		{"ok/old-secret", testSecret, testSecret, true},
		{"fail/old-secret-after-rotation", testSecret, "rotated" + testSecret, false},
		{"ok/new-secret", "rotated" + testSecret, "rotated" + testSecret, true},
	} {
		secret = tc.current
		r := newKMSRequest(t, "Encrypt", testBody)
		sdkSign(t, r, []byte(testBody), testAKID, tc.signWith, "", "us-east-1", "kms", testNow)
		_, err := v.Verify(context.Background(), r, []byte(testBody))
		if (err == nil) != tc.ok {
			t.Fatalf("%d %s: err = %v", i, tc.name, err)
		}
	}
}

// TestSignMatchesSDK checks that Sign produces the same Authorization header
// as aws-sdk-go-v2 for the same request.
func TestSignMatchesSDK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, token, url string }{
		{"ok/plain", "", "http://127.0.0.1:4599/"},
		{"ok/token", tempToken, "http://127.0.0.1:4599/"},
		{"ok/path-query", "", "http://127.0.0.1:4599/a%20b/c?z=1&a=x%2By&a=%20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk := func() *http.Request {
				r, _ := http.NewRequest(http.MethodPost, tc.url, strings.NewReader(testBody))
				r.Header.Set("Content-Type", "application/x-amz-json-1.1")
				r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
				return r
			}
			a, b := mk(), mk()
			sdkSign(t, a, []byte(testBody), testAKID, testSecret, tc.token, "us-east-1", "kms", testNow)
			Sign(b, []byte(testBody), testAKID, []byte(testSecret), tc.token, "us-east-1", "kms", testNow)
			if ga, gb := a.Header.Get("Authorization"), b.Header.Get("Authorization"); ga != gb {
				t.Fatalf("Authorization differs:\nsdk:  %s\nours: %s", ga, gb)
			}
			v := testVerifier(testNow)
			if tc.token != "" {
				v.Source = StaticCredentials{testAKID: {Key: []byte(testSecret), SessionToken: tc.token}}
			}
			if _, err := v.Verify(context.Background(), b, []byte(testBody)); err != nil {
				t.Fatalf("Verify(Sign(r)): %v", err)
			}
		})
	}
}

// TestVerifyOverHTTP sends SDK-signed requests through a real net/http
// server, so that server-side parsing (Host, Content-Length, RequestURI) is
// what Verify sees.
func TestVerifyOverHTTP(t *testing.T) {
	t.Parallel()
	v := &Verifier{Source: StaticCredentials{testAKID: {Key: []byte(testSecret)}}, Region: "us-east-1"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := v.Verify(r.Context(), r, body); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, tc := range []struct{ name, path, extra string }{
		{"ok/root", "/", ""},
		{"ok/escaped-path-and-query", "/a%20b/%7Ec?z=1&a=x%2By&a=%20&b", ""},
		{"ok/multi-space-header", "/", "a   b  c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, srv.URL+tc.path, strings.NewReader(testBody))
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
			if tc.extra != "" {
				r.Header.Set("X-Extra", tc.extra)
				r.Header.Add("X-Extra", "second")
			}
			sdkSign(t, r, []byte(testBody), testAKID, testSecret, "", "us-east-1", "kms", time.Now())
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d: %s", resp.StatusCode, msg)
			}
		})
	}
}

type goldenCase struct {
	Name         string     `json:"name"`
	Method       string     `json:"method"`
	URL          string     `json:"url"`
	Headers      [][]string `json:"headers"`
	Body         string     `json:"body"`
	AccessKeyID  string     `json:"accessKeyId"`
	Secret       string     `json:"secret"`
	SessionToken string     `json:"sessionToken"`
	Now          string     `json:"now"`
}

// TestVerifyBotocoreGolden verifies requests signed by botocore (see
// testdata/gen_botocore.py), parsed from raw HTTP/1.1 bytes as a server would.
func TestVerifyBotocoreGolden(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/botocore.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 3 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, gc := range cases {
		for _, tamper := range []bool{false, true} {
			name := "ok/" + gc.Name
			if tamper {
				name = "fail/tampered-" + gc.Name
			}
			t.Run(name, func(t *testing.T) {
				u, err := url.Parse(gc.URL)
				if err != nil {
					t.Fatal(err)
				}
				body := gc.Body
				if tamper {
					body = strings.Replace(body, "}", " }", 1)
				}
				var raw bytes.Buffer
				fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: %s\r\n", gc.Method, u.RequestURI(), u.Host)
				for _, h := range gc.Headers {
					if h[0] == "Content-Length" {
						h[1] = fmt.Sprint(len(body))
					}
					fmt.Fprintf(&raw, "%s: %s\r\n", h[0], h[1])
				}
				raw.WriteString("\r\n" + body)
				r, err := http.ReadRequest(bufio.NewReader(&raw))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(r.Body)
				now, _ := time.Parse(TimeFormat, gc.Now)
				v := &Verifier{
					Source: StaticCredentials{gc.AccessKeyID: {Key: []byte(gc.Secret), SessionToken: gc.SessionToken}},
					Region: "us-east-1", Now: func() time.Time { return now },
				}
				res, err := v.Verify(context.Background(), r, got)
				if tamper {
					wantCode(t, err, awserr.InvalidSignature, msgSignatureInvalid)
					return
				}
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.AccessKeyID != gc.AccessKeyID || res.SessionToken != gc.SessionToken {
					t.Fatalf("result = %+v", res)
				}
			})
		}
	}
}

func TestParseAmzDate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"20261123T100000Z", true},
		{"20240229T235959Z", true}, {"20240229T235960Z", false},
		{"20250229T000000Z", false},
		{"20261323T100000Z", false},
		{"20261123 100000Z", false},
		{"20261123T1000000", false},
		{"2026112aT100000Z", false},
	} {
		got, ok := parseAmzDate(tc.in)
		if ok != tc.ok {
			t.Errorf("parseAmzDate(%q) ok = %v", tc.in, ok)
		}
		if ok {
			want, err := time.Parse(TimeFormat, tc.in)
			if err != nil || !want.Equal(got) {
				t.Errorf("parseAmzDate(%q) = %v, want %v", tc.in, got, want)
			}
		}
	}
}

// TestUnsignedHeaderMany covers requests with more headers that must be
// signed than unsignedHeader keeps on its stack.
func TestUnsignedHeaderMany(t *testing.T) {
	t.Parallel()
	var names, signed []string
	for i := 0; i < 20; i++ {
		n := fmt.Sprintf("X-Amz-Meta-%02d", i)
		names = append(names, n)
		signed = append(signed, strings.ToLower(n))
	}
	names = append(names, "Content-Type", "Host", "User-Agent")
	signed = append(signed, "content-type", "host")
	a := authorization{signedHeaders: strings.Join(signed, ";")}
	if got := a.unsignedHeader(names); got != "" {
		t.Fatalf("all signed: unsignedHeader = %q", got)
	}
	a.signedHeaders = strings.Join(append(signed[:7:7], signed[8:]...), ";") // drop x-amz-meta-07
	if got := a.unsignedHeader(names); got != "X-Amz-Meta-07" {
		t.Fatalf("one unsigned: unsignedHeader = %q, want X-Amz-Meta-07", got)
	}
	a.signedHeaders = "HOST;CONTENT-TYPE;" + strings.ToUpper(strings.Join(signed[1:20], ";"))
	if got := a.unsignedHeader(names); got != "X-Amz-Meta-00" {
		t.Fatalf("upper-case list: unsignedHeader = %q, want X-Amz-Meta-00", got)
	}
}

// TestTooManySignedHeaders: a SignedHeaders list longer than
// MaxSignedHeaders is refused before the canonical request is built.
func TestTooManySignedHeaders(t *testing.T) {
	names := []string{"content-type", "host", "x-amz-date", "x-amz-target"}
	for i := len(names); i < MaxSignedHeaders+1; i++ {
		names = append(names, fmt.Sprintf("x-pad-%03d", i))
	}
	sort.Strings(names)
	r := httptest.NewRequest(http.MethodPost, "http://kms.us-east-1.amazonaws.com/", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	now := time.Now().UTC()
	r.Header.Set("X-Amz-Date", now.Format(TimeFormat))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+now.Format("20060102")+"/us-east-1/kms/aws4_request, SignedHeaders="+strings.Join(names, ";")+", Signature=00")
	v := &Verifier{Source: StaticCredentials{"AKIDEXAMPLE": {Key: []byte("s")}}, Region: "us-east-1", Services: []string{"kms"}}
	_, err := v.Verify(context.Background(), r, []byte("{}"))
	if e := awserr.As(err); e == nil || e.Code != awserr.IncompleteSignature || !strings.Contains(e.Message, "more than 64") {
		t.Fatalf("Verify = %v; want IncompleteSignatureException naming the bound", err)
	}
}
