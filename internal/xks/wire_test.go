package xks

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
		if err := sign(t.Context(), r, body, cred, region, signAt); err != nil {
			t.Fatal(err)
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(tc.req, tc.body, []Credential{cred}, "eu-west-1", now)
			if (err == nil) != tc.ok {
				t.Fatalf("verify = %v, want ok=%v", err, tc.ok)
			}
		})
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
