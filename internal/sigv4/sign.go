package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// unsignedHeaders are never signed: proxies and transports rewrite them.
var unsignedHeaders = map[string]bool{
	"authorization":     true,
	"user-agent":        true,
	"x-amzn-trace-id":   true,
	"expect":            true,
	"transfer-encoding": true,
	"connection":        true,
}

// Signer signs requests with one set of credentials. It caches the derived
// signing key, so reusing a Signer is cheaper than calling Sign. A Signer is
// safe for concurrent use; its fields must not change after first use.
type Signer struct {
	AccessKeyID  string
	Secret       []byte
	SessionToken string // sent as X-Amz-Security-Token when non-empty
	Region       string
	Service      string

	cache keyCache
}

// Sign adds X-Amz-Date, X-Amz-Security-Token (for temporary credentials) and
// Authorization to r, signing the method, path, query, the Host, every header
// already set on r (except Authorization, User-Agent, Expect,
// X-Amzn-Trace-Id, Transfer-Encoding and Connection), Content-Length when
// r.ContentLength > 0, and the SHA-256 of body, which must be the exact body
// r will carry. It replaces any earlier signature. Sign does not set
// X-Amz-Content-Sha256; set it before calling Sign to have it signed.
func (s *Signer) Sign(r *http.Request, body []byte, t time.Time) {
	if shortSecret(s.Secret) {
		r.Header.Del("Authorization") // unsigned: refused by the server (fips.go)
		return
	}
	t = t.UTC()
	var amzDate [16]byte
	t.AppendFormat(amzDate[:0], TimeFormat)
	r.Header.Del("Authorization")
	r.Header["X-Amz-Date"] = []string{string(amzDate[:])}
	if s.SessionToken != "" {
		r.Header["X-Amz-Security-Token"] = []string{s.SessionToken}
	}

	names := make([]string, 0, len(r.Header)+2)
	names = append(names, "host")
	for k := range r.Header {
		lk := strings.ToLower(k)
		if !unsignedHeaders[lk] && lk != "host" && lk != "content-length" {
			names = append(names, lk)
		}
	}
	if r.ContentLength > 0 {
		names = append(names, "content-length")
	}
	sort.Strings(names)
	signedHeaders := strings.Join(names, ";")

	sum := sha256.Sum256(body)
	var bodyHash [64]byte
	hex.Encode(bodyHash[:], sum[:])

	date := string(amzDate[:8])
	sc := scope{s.AccessKeyID, date, s.Region, s.Service, "aws4_request"}
	key := s.cache.signingKey(s.Secret, sc, 16)
	scopeStr := date + "/" + s.Region + "/" + s.Service + "/aws4_request"

	sp := getScratch()
	sp.buf = appendCanonicalRequest(sp.buf[:0], HTTPRequest(r), signedHeaders, bodyHash[:])
	sig := signature(sp.buf, &key, amzDate[:], scopeStr)
	putScratch(sp)

	var sigHex [64]byte
	hex.Encode(sigHex[:], sig[:])
	auth := make([]byte, 0, 64+len(s.AccessKeyID)+len(scopeStr)+len(signedHeaders)+64)
	auth = append(auth, Algorithm+" Credential="...)
	auth = append(auth, s.AccessKeyID...)
	auth = append(auth, '/')
	auth = append(auth, scopeStr...)
	auth = append(auth, ", SignedHeaders="...)
	auth = append(auth, signedHeaders...)
	auth = append(auth, ", Signature="...)
	auth = append(auth, sigHex[:]...)
	r.Header["Authorization"] = []string{string(auth)}
}

// Sign signs r once with the given credentials; see Signer.Sign. Use a
// Signer to sign many requests.
func Sign(r *http.Request, body []byte, akid string, secret []byte, sessionToken, region, service string, t time.Time) {
	s := Signer{AccessKeyID: akid, Secret: secret, SessionToken: sessionToken, Region: region, Service: service}
	s.Sign(r, body, t)
}
