package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trentkms/trent/internal/sigv4"
)

const (
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken      = "The security token included in the request is invalid."
)

// signAs returns a signer for rawCall that signs with the given identity,
// scope and time.
func signAs(akid, secret, region, service string, at time.Time) func(*http.Request, []byte) {
	return func(r *http.Request, body []byte) {
		sigv4.Sign(r, body, akid, []byte(secret), "", region, service, at)
	}
}

func adminSigner() func(*http.Request, []byte) {
	return signAs(adminAKID, adminSecret, region, "kms", time.Now())
}

// TestRawRequests drives the server with hand-made requests: the cases an
// SDK cannot produce (unsigned, tampered, wrong scope, bad protocol).
func TestRawRequests(t *testing.T) {
	t.Parallel()
	ep := shared.Endpoint
	listKeys := []byte(`{}`)
	big := []byte(`{"KeyId":"alias/x","Plaintext":"` + strings.Repeat("A", 1<<20) + `"}`)
	cases := []struct {
		name      string
		op        string
		body      []byte
		sign      func(*http.Request, []byte)
		status    int
		code, msg string
	}{
		{"ok/signed ListKeys", "ListKeys", listKeys, adminSigner(), 200, "", ""},
		{"fail/unsigned", "ListKeys", listKeys, nil, 400, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"fail/unknown access key", "ListKeys", listKeys, signAs("AKIAE2EUNKNOWN000001", adminSecret, region, "kms", time.Now()), 400,
			"UnrecognizedClientException", msgInvalidToken},
		{"fail/wrong secret", "ListKeys", listKeys, signAs(adminAKID, adminSecret+"x", region, "kms", time.Now()), 400,
			"InvalidSignatureException", msgSignatureMismatch},
		{"fail/tampered body", "ListKeys", []byte(`{"Limit":5}`), func(r *http.Request, body []byte) {
			adminSigner()(r, body)
			body[len(body)-2] = '6' // same length, different bytes: the signature no longer covers it
		}, 400, "InvalidSignatureException", msgSignatureMismatch},
		{"fail/tampered target", "ListKeys", listKeys, func(r *http.Request, body []byte) {
			adminSigner()(r, body)
			r.Header.Set("X-Amz-Target", "TrentService.ListAliases")
		}, 400, "InvalidSignatureException", msgSignatureMismatch},
		{"fail/wrong region in scope", "ListKeys", listKeys, signAs(adminAKID, adminSecret, "us-west-2", "kms", time.Now()), 400,
			"InvalidSignatureException", "Credential should be scoped to a valid region. "},
		{"fail/wrong service in scope", "ListKeys", listKeys, signAs(adminAKID, adminSecret, region, "s3", time.Now()), 400,
			"InvalidSignatureException", "Credential should be scoped to correct service: 'kms'. "},
		{"fail/signed 10 minutes ago", "ListKeys", listKeys, signAs(adminAKID, adminSecret, region, "kms", time.Now().Add(-10*time.Minute)), 400,
			"InvalidSignatureException", "Signature expired: "},
		{"fail/signed 10 minutes ahead", "ListKeys", listKeys, signAs(adminAKID, adminSecret, region, "kms", time.Now().Add(10*time.Minute)), 400,
			"InvalidSignatureException", "Signature not yet current: "},
		{"fail/unknown operation", "NoSuchOperation", listKeys, adminSigner(), 400, "UnknownOperationException", anyMessage},
		{"fail/other service prefix", "OtherService.ListKeys", listKeys, adminSigner(), 400, "UnknownOperationException", anyMessage},
		{"fail/malformed JSON", "ListKeys", []byte(`{"Limit":`), adminSigner(), 400, "SerializationException", anyMessage},
		{"fail/wrong member type", "ListKeys", []byte(`{"Limit":"five"}`), adminSigner(), 400, "SerializationException", anyMessage},
		{"fail/oversized body", "Encrypt", big, adminSigner(), 413, "RequestEntityTooLargeException", anyMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := rawCall(t, ep, tc.op, append([]byte(nil), tc.body...), tc.sign)
			if id := resp.Header.Get("X-Amzn-Requestid"); len(id) != 36 {
				t.Errorf("x-amzn-RequestId = %q, want a UUID", id)
			}
			if resp.Status != tc.status {
				t.Fatalf("status %d (%s: %s), want %d", resp.Status, resp.ErrorType, resp.Message, tc.status)
			}
			if tc.code == "" {
				return
			}
			if resp.ErrorType != tc.code {
				t.Fatalf("__type %q (%q), want %q", resp.ErrorType, resp.Message, tc.code)
			}
			if resp.Header.Get("X-Amzn-Errortype") != tc.code {
				t.Errorf("x-amzn-ErrorType = %q, want %q", resp.Header.Get("X-Amzn-Errortype"), tc.code)
			}
			switch {
			case tc.msg == anyMessage:
				if resp.Message == "" {
					t.Errorf("empty message for %s", tc.code)
				}
			case strings.HasSuffix(tc.msg, ": "): // a time-dependent message: check its start
				if !strings.HasPrefix(resp.Message, tc.msg) {
					t.Errorf("message %q, want prefix %q", resp.Message, tc.msg)
				}
			case resp.Message != tc.msg:
				t.Errorf("message\n  %q\nwant\n  %q", resp.Message, tc.msg)
			}
			for _, secret := range []string{adminSecret, adminSecret + "x"} {
				if strings.Contains(string(resp.Body), secret) {
					t.Fatal("response body contains the secret access key")
				}
			}
		})
	}
}

// TestSDKAuthentication covers the authentication failures an SDK client
// produces with bad credentials or a skewed clock.
func TestSDKAuthentication(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		opts      []func(*kms.Options)
		code, msg string
	}{
		{"fail/wrong secret", []func(*kms.Options){withCredentials(adminAKID, "not-the-secret-0123456789")}, "InvalidSignatureException", msgSignatureMismatch},
		{"fail/unknown access key", []func(*kms.Options){withCredentials("AKIAE2EUNKNOWN000002", adminSecret)}, "UnrecognizedClientException", msgInvalidToken},
		{"fail/clock 10 minutes slow", []func(*kms.Options){withClock(func() time.Time { return time.Now().Add(-10 * time.Minute) })}, "InvalidSignatureException", "Signature expired: "},
		{"fail/clock 10 minutes fast", []func(*kms.Options){withClock(func() time.Time { return time.Now().Add(10 * time.Minute) })}, "InvalidSignatureException", "Signature not yet current: "},
		{"fail/wrong region", []func(*kms.Options){func(o *kms.Options) { o.Region = "eu-west-1" }}, "InvalidSignatureException", "Credential should be scoped to a valid region. "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(shared.Endpoint, tc.opts...)
			_, err := c.ListKeys(ctxT(t), &kms.ListKeysInput{})
			if strings.HasSuffix(tc.msg, ": ") {
				wantAPIErrorPrefix(t, err, tc.code, tc.msg)
			} else {
				wantAPIError(t, err, tc.code, tc.msg)
			}
			if strings.Contains(err.Error(), adminSecret) {
				t.Fatal("error contains the secret access key")
			}
		})
	}
	t.Run("ok/request ID on success", func(t *testing.T) {
		out, err := newClient(shared.Endpoint).GenerateRandom(ctxT(t), &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(4)})
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := awsmw.GetRequestIDMetadata(out.ResultMetadata); !ok || len(id) != 36 {
			t.Fatalf("request ID = %q, %v; want a UUID", id, ok)
		}
	})
}
