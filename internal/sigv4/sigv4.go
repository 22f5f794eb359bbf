package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/awserr"
)

// Algorithm is the only signing algorithm Verify accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// TimeFormat is the ISO-8601 basic format of X-Amz-Date.
const TimeFormat = "20060102T150405Z"

// DefaultMaxSkew is the clock skew Verify tolerates when Verifier.MaxSkew is zero.
const DefaultMaxSkew = 5 * time.Minute

// ErrUnknownAccessKey is returned (wrapped) by a CredentialSource when it has
// no secret for an access key ID.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// Messages AWS sends for authentication failures.
const (
	msgMissingToken     = "Missing Authentication Token"
	msgInvalidToken     = "The security token included in the request is invalid."
	msgExpiredToken     = "The security token included in the request is expired"
	msgSignatureInvalid = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgHostNotSigned    = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	// msgNotSigned is AWS's message for an unsigned Host, for any header
	// that must be signed (see mustSign).
	msgNotSigned = "'%s' must be a 'SignedHeader' in the AWS Authorization."
)

// MaxSignedHeaders is the most headers a signature may cover. The SDKs
// sign fewer than 15; building the canonical request looks each one up
// among the request's headers, so an unbounded list would let any client
// holding an access key ID (not its secret) make verification quadratic.
const MaxSignedHeaders = 64

// HeaderRule says which headers of a request its signature must cover
// besides Host, which it must always cover.
type HeaderRule uint8

const (
	// SignSDKHeaders requires Content-Type and every X-Amz-* header the
	// request carries to be signed, as every AWS SDK and the AWS CLI sign
	// them, so that nothing that selects or qualifies the operation can be
	// changed or added after signing. It is the zero HeaderRule.
	SignSDKHeaders HeaderRule = iota
	// SignHostAndDate requires X-Amz-Date, which the request must carry
	// (the Date header is not read), and nothing else. It is the rule of
	// the XKS proxy API, whose caller, AWS KMS, signs exactly
	// host;x-amz-date and sends Content-Type unsigned: a proxy has to take
	// such requests. Under it the operation is named by the path, which the
	// signature covers.
	SignHostAndDate
)

// Secret is what a CredentialSource knows about an access key.
type Secret struct {
	// Key is the secret access key. Verify never modifies it.
	Key []byte
	// SessionToken is non-empty for temporary credentials; the request must
	// then carry the same value in X-Amz-Security-Token.
	SessionToken string
	// SessionTokenSHA256, when set, replaces SessionToken: the request must
	// carry a session token whose SHA-256 it is. A CredentialSource that
	// stores only the hash of a token (so that its store cannot be used to
	// forge sessions) sets this instead.
	SessionTokenSHA256 []byte
	// Expires is when temporary credentials stop working; zero means never.
	Expires time.Time
}

// CredentialSource looks up the secret of an access key.
type CredentialSource interface {
	// Lookup returns the secret for accessKeyID. It returns an error wrapping
	// ErrUnknownAccessKey if the key does not exist (or is disabled); any
	// other error is treated as an internal failure and returned by Verify
	// unchanged.
	Lookup(ctx context.Context, accessKeyID string) (Secret, error)
}

// StaticCredentials is a CredentialSource backed by a fixed map from access
// key ID to secret. It is meant for tests and single-user setups; it must not
// be modified while in use.
type StaticCredentials map[string]Secret

// Lookup implements CredentialSource.
func (s StaticCredentials) Lookup(_ context.Context, accessKeyID string) (Secret, error) {
	sec, ok := s[accessKeyID]
	if !ok {
		return Secret{}, ErrUnknownAccessKey
	}
	return sec, nil
}

// Verifier checks SigV4 signatures. Its exported fields must not change after
// the first call to Verify; Verify is safe for concurrent use.
type Verifier struct {
	// Source maps access key IDs to secrets. Required.
	Source CredentialSource
	// Region is the only region accepted in the credential scope. Required.
	Region string
	// Services are the accepted scope services, e.g. "kms"; the first one is
	// named in the error message. Empty means {"kms"}.
	Services []string
	// MustSign says which headers the signature must cover; the zero value
	// is SignSDKHeaders.
	MustSign HeaderRule
	// MaxSkew is the tolerated difference between the request date and Now;
	// zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// CacheSize bounds the derived-key cache; zero means 1024 entries.
	CacheSize int

	cache keyCache
}

// Result describes a request whose signature verified.
type Result struct {
	AccessKeyID  string
	SessionToken string // empty for long-term credentials
	Region       string
	Service      string
	SignedAt     time.Time
}

// scratch is the reusable memory of one Verify or Sign.
type scratch struct {
	buf   []byte   // the canonical request
	names []string // the request's header names
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 1024), names: make([]string, 0, 32)}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.names) > 256 || cap(s.buf) > 64<<10 {
		return // grown by an outsized request: let it go
	}
	// The names alias the request's buffers: drop them.
	clear(s.names[:cap(s.names)])
	s.names = s.names[:0]
	scratchPool.Put(s)
}

// Verify checks the signature of r, whose body the caller has already read
// into body (r.Body is not touched). On success it returns who signed the
// request. It returns an *awserr.Error for any failure the client caused:
//
//   - MissingAuthenticationTokenException: no Authorization header, or one that
//     is not an AWS4 signature;
//   - IncompleteSignatureException: a missing Credential, SignedHeaders or
//     Signature parameter, a missing or malformed date, an unsupported
//     algorithm, or a credential that is not key/date/region/service/term;
//   - InvalidSignatureException: clock skew beyond MaxSkew, Host not signed,
//     a wrong scope (region, service, terminator, date), a Content-Type or
//     X-Amz-* header on the request that is not signed (under
//     SignHostAndDate: X-Amz-Date not signed), a body that does not match
//     X-Amz-Content-Sha256, or a signature mismatch;
//   - UnrecognizedClientException: an unknown access key, or a session token
//     that is missing, unexpected or wrong;
//   - ExpiredTokenException: temporary credentials past their expiry.
//
// Errors from the CredentialSource other than ErrUnknownAccessKey are
// returned wrapped, and must be treated as internal errors.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (Result, error) {
	return v.VerifyRequest(ctx, HTTPRequest(r), body)
}

// VerifyRequest is Verify for a request of any HTTP server.
func (v *Verifier) VerifyRequest(ctx context.Context, r Request, body []byte) (Result, error) {
	auth := first(r, "Authorization")
	if auth == "" || !strings.HasPrefix(auth, "AWS4-") {
		return Result{}, awserr.New(awserr.MissingAuthenticationToken, msgMissingToken)
	}
	dateHdr := first(r, "X-Amz-Date")
	useDate := false
	if dateHdr == "" && v.MustSign != SignHostAndDate {
		dateHdr = first(r, "Date")
		useDate = true
	}
	a, msg := parseAuthorization(auth)
	if dateHdr == "" {
		msg += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
	}
	if msg != "" {
		return Result{}, awserr.New(awserr.IncompleteSignature, msg+"Authorization="+auth)
	}

	signedAt, ok := parseAmzDate(dateHdr)
	if !ok && useDate {
		if t, err := http.ParseTime(dateHdr); err == nil {
			signedAt, ok = t.UTC(), true
		}
	}
	if !ok {
		return Result{}, awserr.Newf(awserr.IncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", dateHdr)
	}
	var amzDate [16]byte
	signedAt.AppendFormat(amzDate[:0], TimeFormat)
	if err := v.checkSkew(signedAt); err != nil {
		return Result{}, err
	}
	if !a.signsHost() {
		return Result{}, awserr.New(awserr.InvalidSignature, msgHostNotSigned)
	}
	if strings.Count(a.signedHeaders, ";") >= MaxSignedHeaders {
		// Each signed header is looked up among the request's headers
		// to build the canonical request: a bound keeps that linear.
		return Result{}, awserr.Newf(awserr.IncompleteSignature, "SignedHeaders names more than %d headers.", MaxSignedHeaders)
	}
	if a.algorithm != Algorithm {
		return Result{}, awserr.Newf(awserr.IncompleteSignature, "Unsupported AWS 'algorithm': '%s' (only AWS4-HMAC-SHA256 for now). ", a.algorithm)
	}
	sc, ok := parseScope(a.credential)
	if !ok {
		return Result{}, awserr.Newf(awserr.IncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", a.credential)
	}
	if err := v.checkScope(sc, string(amzDate[:])); err != nil {
		return Result{}, err
	}
	sp := getScratch()
	defer putScratch(sp)
	if v.MustSign == SignHostAndDate {
		if !a.signs("x-amz-date") {
			return Result{}, awserr.Newf(awserr.InvalidSignature, msgNotSigned, "X-Amz-Date")
		}
	} else {
		sp.names = r.AppendHeaderNames(sp.names[:0])
		if h := a.unsignedHeader(sp.names); h != "" {
			return Result{}, awserr.Newf(awserr.InvalidSignature, msgNotSigned, h)
		}
	}
	// The request's strings may alias its server's reusable buffers (see
	// Request): what outlives the call is copied.
	sc.accessKeyID = strings.Clone(sc.accessKeyID)

	sec, err := v.Source.Lookup(ctx, sc.accessKeyID)
	if err != nil {
		if errors.Is(err, ErrUnknownAccessKey) {
			return Result{}, awserr.New(awserr.UnrecognizedClient, msgInvalidToken)
		}
		return Result{}, fmt.Errorf("sigv4: looking up access key: %w", err)
	}

	var bodyHash [64]byte
	sum := sha256.Sum256(body)
	hex.Encode(bodyHash[:], sum[:])
	if h := first(r, "X-Amz-Content-Sha256"); h != "" && h != string(bodyHash[:]) {
		return Result{}, awserr.New(awserr.InvalidSignature, msgSignatureInvalid)
	}

	if shortSecret(sec.Key) {
		return Result{}, awserr.New(awserr.InvalidSignature, msgSignatureInvalid)
	}
	key := v.cache.signingKey(sec.Key, sc, v.cacheSize())
	sp.buf = appendCanonicalRequest(sp.buf[:0], r, a.signedHeaders, bodyHash[:])
	want := signature(sp.buf, &key, amzDate[:], a.scope())
	var wantHex [64]byte
	hex.Encode(wantHex[:], want[:])
	if !hmacEqualString(wantHex[:], a.signature) {
		return Result{}, awserr.New(awserr.InvalidSignature, msgSignatureInvalid)
	}

	tok := first(r, "X-Amz-Security-Token")
	if sec.SessionTokenSHA256 != nil {
		// Hashing first makes the comparison's time independent of the
		// token's length and contents as well.
		h := sha256.Sum256([]byte(tok))
		if tok == "" || subtle.ConstantTimeCompare(h[:], sec.SessionTokenSHA256) != 1 {
			return Result{}, awserr.New(awserr.UnrecognizedClient, msgInvalidToken)
		}
	} else if subtle.ConstantTimeCompare([]byte(tok), []byte(sec.SessionToken)) != 1 {
		return Result{}, awserr.New(awserr.UnrecognizedClient, msgInvalidToken)
	}
	if !sec.Expires.IsZero() && !v.now().Before(sec.Expires) {
		return Result{}, awserr.New(awserr.ExpiredToken, msgExpiredToken)
	}
	return Result{
		AccessKeyID:  sc.accessKeyID,
		SessionToken: strings.Clone(tok),
		Region:       v.Region, // equal to sc.region (checkScope)
		Service:      v.service(sc.service),
		SignedAt:     signedAt,
	}, nil
}

// service returns the configured service name equal to s (checkScope
// accepted s), so the Result does not keep the request's copy.
func (v *Verifier) service(s string) string {
	for _, c := range v.Services {
		if c == s {
			return c
		}
	}
	return strings.Clone(s)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) cacheSize() int {
	if v.CacheSize > 0 {
		return v.CacheSize
	}
	return 1024
}

func (v *Verifier) checkSkew(signedAt time.Time) error {
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	now := v.now().UTC().Truncate(time.Second)
	if lo := now.Add(-skew); signedAt.Before(lo) {
		return awserr.Newf(awserr.InvalidSignature, "Signature expired: %s is now earlier than %s (%s - %s min.)",
			signedAt.Format(TimeFormat), lo.Format(TimeFormat), now.Format(TimeFormat), formatMinutes(skew))
	}
	if hi := now.Add(skew); signedAt.After(hi) {
		return awserr.Newf(awserr.InvalidSignature, "Signature not yet current: %s is still later than %s (%s + %s min.)",
			signedAt.Format(TimeFormat), hi.Format(TimeFormat), now.Format(TimeFormat), formatMinutes(skew))
	}
	return nil
}

func formatMinutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprint(int64(d / time.Minute))
	}
	return fmt.Sprint(d.Minutes())
}

// checkScope reports every wrong scope element at once, as AWS does.
func (v *Verifier) checkScope(sc scope, amzDate string) error {
	var msg string
	if sc.region != v.Region {
		msg += "Credential should be scoped to a valid region. "
	}
	services := v.Services
	if len(services) == 0 {
		services = []string{"kms"}
	}
	okService := false
	for _, s := range services {
		if sc.service == s {
			okService = true
			break
		}
	}
	if !okService {
		msg += "Credential should be scoped to correct service: '" + services[0] + "'. "
	}
	if sc.terminator != "aws4_request" {
		msg += "Credential should be scoped with a valid terminator: 'aws4_request', not '" + sc.terminator + "'. "
	}
	if sc.date != amzDate[:8] {
		msg += "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + sc.date + "' != '" + amzDate[:8] + "', from '" + amzDate + "'."
	}
	if msg != "" {
		return awserr.New(awserr.InvalidSignature, msg)
	}
	return nil
}

// hmacEqualString compares a computed hex signature with the one the client
// sent in constant time.
func hmacEqualString(want []byte, got string) bool {
	if len(got) != len(want) {
		return false
	}
	var g [64]byte
	copy(g[:], got)
	return hmac.Equal(want, g[:len(got)])
}

// parseAmzDate parses YYYYMMDDTHHMMSSZ without allocating.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != 16 || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	var n [6]int
	pos := [6][2]int{{0, 4}, {4, 6}, {6, 8}, {9, 11}, {11, 13}, {13, 15}}
	for i, p := range pos {
		v := 0
		for j := p[0]; j < p[1]; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			v = v*10 + int(c-'0')
		}
		n[i] = v
	}
	if n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 || n[3] > 23 || n[4] > 59 || n[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], 0, time.UTC)
	if t.Day() != n[2] { // e.g. Feb 30
		return time.Time{}, false
	}
	return t, true
}
