package xks

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestCDIVSpecExample checks CDIV against the example in the XKS spec's
// Encrypt response.
func TestCDIVSpecExample(t *testing.T) {
	d := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got := CDIV([]byte("project=nile,department=marketing"), d("a2V5X3ZlcnNpb249MQ=="), d("HMrlRw85cAJUd5Ax"),
		d("ghxkK1txeDNn3q8Y"), d("vBxN2ncH1oEkR8WVXpmyYQ=="))
	if want := d("qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc="); !bytes.Equal(got, want) {
		t.Fatalf("CDIV = %x, want %x", got, want)
	}
}

func TestHSMAAD(t *testing.T) {
	tests := []struct {
		name          string
		aad, metadata []byte
		want          []byte
	}{
		{"ok/none", nil, nil, []byte{0, 0, 0}},
		{"ok/aad", []byte("ab"), nil, []byte{0, 2, 'a', 'b', 0}},
		{"ok/both", []byte("a"), []byte("m"), []byte{0, 1, 'a', 1, 'm'}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hsmAAD(tc.aad, tc.metadata); !bytes.Equal(got, tc.want) {
				t.Fatalf("hsmAAD = %v, want %v", got, tc.want)
			}
		})
	}
	if bytes.Equal(hsmAAD([]byte("ab"), nil), hsmAAD([]byte("a"), []byte("b"))) {
		t.Fatal("AAD and metadata can be shifted into each other")
	}
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cred := Credential{AccessKeyID: "AKID", SecretAccessKey: "secretsecretsecret"}
	body := []byte(`{"requestMetadata":{"kmsRequestId":"r","kmsOperation":"o"}}`)
	signed := func(signAt time.Time, region string) *http.Request {
		r := httptest.NewRequest("POST", "https://xks.example.com/kms/xks/v1/health", bytes.NewReader(body))
		newSigner(cred, region).Sign(r, body, signAt)
		return r
	}
	// awsKMS signs as AWS KMS does (XKS proxy API, appendix A): host and
	// x-amz-date only, with Content-Type sent unsigned.
	awsKMS := func(signAt time.Time) *http.Request {
		r := httptest.NewRequest("POST", "https://xks.example.com/kms/xks/v1/health", bytes.NewReader(body))
		r.ContentLength = 0 // signed headers: every one present, and Content-Length if not 0
		newSigner(cred, "eu-west-1").Sign(r, body, signAt)
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/json")
		if a := r.Header.Get("Authorization"); !strings.Contains(a, "SignedHeaders=host;x-amz-date,") {
			t.Fatalf("not signed as AWS KMS signs: %s", a)
		}
		return r
	}
	tests := []struct {
		name string
		req  *http.Request
		body []byte
		ok   bool
	}{
		{"ok/fresh", signed(now, "eu-west-1"), body, true},
		{"ok/4-minutes-old", signed(now.Add(-4*time.Minute), "eu-west-1"), body, true},
		{"fail/6-minutes-old", signed(now.Add(-6*time.Minute), "eu-west-1"), body, false},
		{"fail/other-region", signed(now, "us-east-1"), body, false},
		{"fail/other-body", signed(now, "eu-west-1"), []byte(`{}`), false},
		{"fail/unsigned", httptest.NewRequest("POST", "https://xks.example.com/kms/xks/v1/health", nil), body, false},
		{"ok/signed-as-aws-kms-signs", awsKMS(now), body, true},
		{"fail/signed-as-aws-kms-signs-other-body", awsKMS(now), []byte(`{}`), false},
		{"fail/signed-as-aws-kms-signs-6-minutes-old", awsKMS(now.Add(-6 * time.Minute)), body, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newVerifier([]Credential{cred}, "eu-west-1", func() time.Time { return now }).Verify(t.Context(), tc.req, tc.body)
			if (err == nil) != tc.ok {
				t.Fatalf("verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestSignerMatchesSDK: the client signs its requests exactly as it did
// with aws-sdk-go-v2's signer (Content-Length, Content-Type, Host and
// X-Amz-Date), so a proxy that took them before takes them now.
func TestSignerMatchesSDK(t *testing.T) {
	cred := Credential{AccessKeyID: "AKID", SecretAccessKey: "secretsecretsecret"}
	body := []byte(`{"requestMetadata":{"kmsRequestId":"r","kmsOperation":"o"}}`)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func() *http.Request {
		r, err := http.NewRequest(http.MethodPost, "https://xks.example.com:8443/tenant/kms/xks/v1/keys/key-1/encrypt", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	a, b := mk(), mk()
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey},
		a, hex.EncodeToString(sum[:]), Service, "eu-west-1", at); err != nil {
		t.Fatal(err)
	}
	newSigner(cred, "eu-west-1").Sign(b, body, at)
	if ga, gb := a.Header.Get("Authorization"), b.Header.Get("Authorization"); ga != gb {
		t.Fatalf("Authorization differs:\nsdk:  %s\nours: %s", ga, gb)
	}
	if !strings.Contains(b.Header.Get("Authorization"), "SignedHeaders=content-length;content-type;host;x-amz-date,") {
		t.Fatalf("signed headers: %s", b.Header.Get("Authorization"))
	}
}

// FuzzDecodeRequest: the proxy's body parser and the AAD builder never
// panic on any body.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"requestMetadata":{"kmsRequestId":"r","kmsOperation":"Encrypt"},"plaintext":"SGVsbG8=","encryptionAlgorithm":"AES_GCM"}`))
	f.Add([]byte(`{"ciphertext":"AA==","initializationVector":"AAAAAAAAAAAAAAAA","authenticationTag":"AAAAAAAAAAAAAAAAAAAAAA=="}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req decryptRequest
		if err := decodeStrict(body, &req); err != nil {
			return
		}
		_ = checkMetadata(req.RequestMetadata, true, true)
		_ = hsmAAD(req.AAD, req.CiphertextMetadata)
	})
}
