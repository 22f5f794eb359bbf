package xks_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/hsm/hsmtest"
	"github.com/trentkms/trent/internal/xks"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

var (
	cred   = xks.Credential{AccessKeyID: "AKIAXKSTEST", SecretAccessKey: "0123456789abcdef0123456789abcdef"}
	cred2  = xks.Credential{AccessKeyID: "AKIAXKSNEXT", SecretAccessKey: "fedcba9876543210fedcba9876543210"}
	region = "eu-west-1"
	md     = xks.RequestMetadata{
		AWSPrincipalARN: "arn:aws:iam::111122223333:user/alice",
		KMSKeyARN:       "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		KMSOperation:    "Encrypt", KMSRequestID: "4112f4d6-db54-4af4-ae30-c55a22a8dfae",
	}
)

// setup starts a TLS proxy on 127.0.0.1 backed by SoftHSM with one
// external key, "key-1", and returns a client factory.
func setup(t testing.TB) (*httptest.Server, func(xks.Credential, string) *xks.Client) {
	t.Helper()
	tok := hsmtest.Open(t, hsmtest.TokenA)
	if _, err := tok.FindKey("xks-key-1"); err != nil {
		if _, err := tok.GenerateAESKey("xks-key-1"); err != nil {
			t.Fatal(err)
		}
	}
	p, err := xks.NewProxy(xks.ProxyConfig{Token: tok, PathPrefix: "/tenant-a", Region: region,
		Credentials: []xks.Credential{cred, cred2}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(p)
	t.Cleanup(srv.Close)
	return srv, func(c xks.Credential, path string) *xks.Client {
		cl, err := xks.NewClient(xks.ClientConfig{Endpoint: srv.URL, Path: path, Credential: c, Region: region, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
}

func TestProxyEndToEnd(t *testing.T) {
	_, newClient := setup(t)
	ctx := context.Background()
	c := newClient(cred, "/tenant-a/kms/xks/v1")

	h, err := c.Health(ctx, xks.RequestMetadata{KMSOperation: "KmsHealthCheck", KMSRequestID: "r1"})
	if err != nil || h.EkmFleetDetails[0].HealthStatus != "ACTIVE" || h.EkmVendor != "SoftHSM project" {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	m, err := c.GetKeyMetadata(ctx, "key-1", md)
	if err != nil {
		t.Fatal(err)
	}
	if m.KeySpec != "AES_256" || m.KeyStatus != "ENABLED" || strings.Join(m.KeyUsage, ",") != "ENCRYPT,DECRYPT" {
		t.Fatalf("metadata = %+v", m)
	}

	pt := bytes.Repeat([]byte("kms-ciphertext "), 40)
	aad := []byte("kms hbk id | encryption context digest")
	out, err := c.Encrypt(ctx, "key-1", md, pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.IV) != 12 || len(out.Tag) != 16 || len(out.Ciphertext) != len(pt) || bytes.Equal(out.Ciphertext, pt) {
		t.Fatalf("encrypt output lengths iv=%d tag=%d ct=%d", len(out.IV), len(out.Tag), len(out.Ciphertext))
	}
	flip := func(b []byte) []byte { c := bytes.Clone(b); c[0] ^= 1; return c }

	tests := []struct {
		name   string
		in     *xks.EncryptOutput
		aad    []byte
		client *xks.Client
		want   string // XKS error name, "" for success
	}{
		{"ok/round-trip", out, aad, c, ""},
		{"ok/second-credential", out, aad, newClient(cred2, "/tenant-a/kms/xks/v1"), ""},
		{"fail/tampered-ciphertext", &xks.EncryptOutput{Ciphertext: flip(out.Ciphertext), IV: out.IV, Tag: out.Tag}, aad, c, xks.ErrNameInvalidCiphertext},
		{"fail/tampered-tag", &xks.EncryptOutput{Ciphertext: out.Ciphertext, IV: out.IV, Tag: flip(out.Tag)}, aad, c, xks.ErrNameInvalidCiphertext},
		{"fail/wrong-aad", out, []byte("other"), c, xks.ErrNameInvalidCiphertext},
		{"fail/aad-moved-to-metadata", &xks.EncryptOutput{Ciphertext: out.Ciphertext, CiphertextMetadata: aad[:20], IV: out.IV, Tag: out.Tag}, aad[20:], c, xks.ErrNameInvalidCiphertext},
		{"fail/bad-signature", out, aad, newClient(xks.Credential{AccessKeyID: cred.AccessKeyID, SecretAccessKey: "wrong-secret-wrong-secret"}, "/tenant-a/kms/xks/v1"), xks.ErrNameAuthenticationFailed},
		{"fail/unknown-access-key", out, aad, newClient(xks.Credential{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: cred.SecretAccessKey}, "/tenant-a/kms/xks/v1"), xks.ErrNameAuthenticationFailed},
		{"fail/wrong-prefix", out, aad, newClient(cred, "/tenant-b/kms/xks/v1"), xks.ErrNameInvalidURIPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.client.Decrypt(ctx, "key-1", md, tc.in, tc.aad)
			if tc.want == "" {
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("Decrypt: %v", err)
				}
				return
			}
			var xe *xks.Error
			if !errors.As(err, &xe) || xe.Name != tc.want {
				t.Fatalf("Decrypt error = %v, want %s", err, tc.want)
			}
			if got != nil {
				t.Fatal("failed Decrypt returned plaintext")
			}
		})
	}
}

func TestProxyErrors(t *testing.T) {
	srv, newClient := setup(t)
	ctx := context.Background()
	c := newClient(cred, "/tenant-a/kms/xks/v1")
	tests := []struct {
		name   string
		call   func() error
		want   string
		status int
		aws    string // exception for a crypto operation
	}{
		{"fail/unknown-key-metadata", func() error { _, err := c.GetKeyMetadata(ctx, "no-such-key", md); return err },
			xks.ErrNameKeyNotFound, 404, awserr.KMSInvalidState},
		{"fail/unknown-key-encrypt", func() error { _, err := c.Encrypt(ctx, "no-such-key", md, []byte("x"), nil); return err },
			xks.ErrNameKeyNotFound, 404, awserr.KMSInvalidState},
		{"fail/missing-request-id", func() error {
			m := md
			m.KMSRequestID = ""
			_, err := c.Encrypt(ctx, "key-1", m, []byte("x"), nil)
			return err
		}, xks.ErrNameValidation, 400, awserr.KMSInvalidState},
		{"fail/plaintext-too-large", func() error { _, err := c.Encrypt(ctx, "key-1", md, make([]byte, xks.MaxPlaintext+1), nil); return err },
			xks.ErrNameUnsupportedOperation, 501, awserr.KMSInvalidState},
		{"fail/bad-signature", func() error {
			_, err := newClient(xks.Credential{AccessKeyID: cred.AccessKeyID, SecretAccessKey: "not-the-secret-000000"}, "/tenant-a/kms/xks/v1").GetKeyMetadata(ctx, "key-1", md)
			return err
		}, xks.ErrNameAuthenticationFailed, 401, awserr.KMSInvalidState},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var xe *xks.Error
			if !errors.As(err, &xe) || xe.Name != tc.want || xe.Status != tc.status {
				t.Fatalf("error = %#v, want %s/%d", err, tc.want, tc.status)
			}
			if a := xks.ToAWS(err, xks.CallerCrypto); a.Code != tc.aws || a.Message == "" {
				t.Fatalf("ToAWS = %v, want %s", a, tc.aws)
			}
		})
	}
	// Unsigned and GET requests.
	resp, err := srv.Client().Post(srv.URL+"/tenant-a/kms/xks/v1/health", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"errorName":"AuthenticationFailedException"`) {
		t.Fatalf("unsigned request: %d %s", resp.StatusCode, body)
	}
	resp, err = srv.Client().Get(srv.URL + "/tenant-a/kms/xks/v1/keys/key-1/metadata")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d, want 405", resp.StatusCode)
	}
}

// TestProxyAcceptsAWSKMSRequests: the proxy takes requests signed as AWS
// KMS signs them (XKS proxy API, appendix A: SignedHeaders=host;x-amz-date,
// Content-Type unsigned), here by aws-sdk-go-v2's signer, and the signature
// still binds the path and the body.
func TestProxyAcceptsAWSKMSRequests(t *testing.T) {
	srv, _ := setup(t)
	body := []byte(`{"requestMetadata":{"kmsOperation":"KmsHealthCheck","kmsRequestId":"r1"}}`)
	send := func(path string, sent []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/tenant-a/kms/xks/v1/health", bytes.NewReader(sent))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = 0 // the SDK signs Content-Length when it is not 0
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), xks.Service, region, time.Now()); err != nil {
			t.Fatal(err)
		}
		if a := req.Header.Get("Authorization"); !strings.Contains(a, "SignedHeaders=host;x-amz-date,") {
			t.Fatalf("not signed as AWS KMS signs: %s", a)
		}
		req.ContentLength = int64(len(sent))
		req.Header.Set("Content-Type", "application/json")
		req.URL.Path = "/tenant-a/kms/xks/v1/" + path
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := send("health", body); code != 200 || !strings.Contains(b, `"healthStatus":"ACTIVE"`) {
		t.Fatalf("health signed as AWS KMS signs: %d %s", code, b)
	}
	if code, b := send("keys/key-1/metadata", body); code != 401 {
		t.Fatalf("signature replayed on another path: %d %s", code, b)
	}
	if code, b := send("health", []byte(`{"requestMetadata":{"kmsOperation":"KmsHealthCheck","kmsRequestId":"r2"}}`)); code != 401 {
		t.Fatalf("signature replayed with another body: %d %s", code, b)
	}
}

func TestClientTransportErrors(t *testing.T) {
	ctx := context.Background()
	// A closed port: unreachable.
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	url, client := srv.URL, srv.Client()
	srv.Close()
	c, err := xks.NewClient(xks.ClientConfig{Endpoint: url, Path: "/kms/xks/v1", Credential: cred, Region: region, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(ctx, xks.RequestMetadata{KMSOperation: "ConnectCustomKeyStore", KMSRequestID: "r"})
	if !errors.Is(err, xks.ErrUnreachable) {
		t.Fatalf("closed port: %v, want ErrUnreachable", err)
	}
	if a := xks.ToAWS(err, xks.CallerKeyStore); a.Code != awserr.XksProxyUriUnreachable {
		t.Fatalf("ToAWS = %v", a)
	}
	// A non-XKS error body: invalid response.
	plain := httptest.NewTLSServer(http.NotFoundHandler())
	defer plain.Close()
	c, _ = xks.NewClient(xks.ClientConfig{Endpoint: plain.URL, Path: "/kms/xks/v1", Credential: cred, Region: region, HTTPClient: plain.Client()})
	_, err = c.Health(ctx, xks.RequestMetadata{KMSOperation: "ConnectCustomKeyStore", KMSRequestID: "r"})
	if !errors.Is(err, xks.ErrInvalidResponse) {
		t.Fatalf("plain 404: %v, want ErrInvalidResponse", err)
	}
	if a := xks.ToAWS(err, xks.CallerKeyStore); a.Code != awserr.XksProxyInvalidResponse {
		t.Fatalf("ToAWS = %v", a)
	}
}

func BenchmarkXKSRoundTrip(b *testing.B) {
	_, newClient := setup(b)
	c := newClient(cred, "/tenant-a/kms/xks/v1")
	ctx := context.Background()
	pt, aad := make([]byte, 100), []byte("aad")
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.Encrypt(ctx, "key-1", md, pt, aad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decrypt(ctx, "key-1", md, out, aad); err != nil {
			b.Fatal(err)
		}
	}
}
