package xks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Credential is one SigV4 credential set shared by KMS and the proxy.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
}

const (
	amzDateFormat = "20060102T150405Z"
	maxClockSkew  = 5 * time.Minute
)

var errAuth = errors.New("signature does not verify")

func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// sign signs req (whose body is body) for service kms-xks-proxy.
func sign(ctx context.Context, req *http.Request, body []byte, cred Credential, region string, now time.Time) error {
	return v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey},
		req, payloadHash(body), Service, region, now)
}

// verify checks r's SigV4 signature over body by re-signing a copy that
// carries exactly the headers r says it signed, with the credential its
// access key ID names, and comparing the Authorization headers in constant
// time. The returned error never says which part failed, only that it did
// (the proxy logs nothing of the secret).
func verify(r *http.Request, body []byte, creds []Credential, region string, now time.Time) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return errAuth
	}
	var credential, signedHeaders string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[2] != region || scope[3] != Service || scope[4] != "aws4_request" {
		return errAuth
	}
	var cred *Credential
	for i := range creds {
		if subtle.ConstantTimeCompare([]byte(creds[i].AccessKeyID), []byte(scope[0])) == 1 {
			cred = &creds[i]
		}
	}
	if cred == nil {
		return errAuth
	}
	t, err := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil || t.Format("20060102") != scope[1] {
		return errAuth
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return errAuth
	}
	hash := payloadHash(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != hash {
		return errAuth
	}
	u := &url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	cp, err := http.NewRequest(r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return errAuth
	}
	cp.Host = r.Host
	for _, h := range strings.Split(signedHeaders, ";") {
		if h == "host" || h == "content-length" {
			continue
		}
		if vs := r.Header.Values(h); len(vs) > 0 {
			cp.Header[http.CanonicalHeaderKey(h)] = vs
		}
	}
	if err := v4.NewSigner().SignHTTP(r.Context(), aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey},
		cp, hash, Service, region, t); err != nil {
		return errAuth
	}
	if subtle.ConstantTimeCompare([]byte(cp.Header.Get("Authorization")), []byte(auth)) != 1 {
		return errAuth
	}
	return nil
}
