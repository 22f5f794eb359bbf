package iamapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/sigv4"
)

// MaxBody bounds a request body: the largest input is a 10 KiB role
// policy, percent-encoded up to three times its size.
const MaxBody = 64 << 10

// Config configures a Handler.
type Config struct {
	// Directory holds the principals. Required.
	Directory *iam.Directory
	// Region is the server's region: STS requests are signed for it (or
	// for us-east-1, the global endpoint's region); IAM requests are signed
	// for us-east-1 (or for Region).
	Region string
	// Audit, when set, receives a durable record of every call before the
	// answer is sent.
	Audit  *audit.Log
	Logger *slog.Logger
	// Now is the clock for signature verification (default time.Now).
	Now func() time.Time
	// FailedAuth limits and records requests that fail before their caller
	// is authenticated (the KMS server shares it); nil gets one with
	// default settings writing to Audit.
	FailedAuth *authfail.Limiter
}

// ErrThrottled is the query APIs' answer to a caller over its rate.
var ErrThrottled = awserr.New("Throttling", "Rate exceeded")

// ErrTooLarge is the answer to a body over MaxBody.
var ErrTooLarge = awserr.New("ValidationError", "Request body too large.")

// Handler serves the IAM and STS query APIs. It is safe for concurrent use.
type Handler struct {
	dir       *iam.Directory
	region    string
	audit     *audit.Log
	log       *slog.Logger
	verifiers map[string]*sigv4.Verifier // service + "/" + region
	failed    *authfail.Limiter
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FailedAuth == nil {
		cfg.FailedAuth = authfail.New(authfail.Config{Audit: cfg.Audit, Logger: cfg.Logger})
	}
	h := &Handler{dir: cfg.Directory, region: cfg.Region, audit: cfg.Audit, log: cfg.Logger, verifiers: map[string]*sigv4.Verifier{},
		failed: cfg.FailedAuth}
	for _, svc := range []string{"iam", "sts"} {
		for _, region := range []string{"us-east-1", cfg.Region} {
			h.verifiers[svc+"/"+region] = &sigv4.Verifier{Source: cfg.Directory, Region: region, Services: []string{svc}, Now: cfg.Now}
		}
	}
	return h
}

// verifier picks the verifier for a request of service: the one for the
// region in its credential scope when that region is accepted, else the
// default one, whose error then names the expected region.
func (h *Handler) verifier(service string, r *http.Request) *sigv4.Verifier {
	auth := r.Header.Get("Authorization")
	if i := strings.Index(auth, "Credential="); i >= 0 {
		parts := strings.SplitN(auth[i+len("Credential="):], "/", 5)
		if len(parts) == 5 {
			if v := h.verifiers[service+"/"+parts[2]]; v != nil {
				return v
			}
		}
	}
	if service == "iam" {
		return h.verifiers["iam/us-east-1"]
	}
	return h.verifiers["sts/"+h.region]
}

// call is one request as the audit record needs it.
type call struct {
	reqID  string
	start  time.Time
	op     *operation
	action string
	form   url.Values
	caller *kms.Caller
	akid   string
	out    any
	err    *awserr.Error
}

// ServeHTTP implements http.Handler. It answers every request with AWS's
// query-protocol XML: a result document, or an ErrorResponse.
// errServiceFailure is IAM's and STS's internal error.
var errServiceFailure = awserr.New("ServiceFailure", "Request processing has failed due to some unknown error, exception or failure.")

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{reqID: w.Header().Get("X-Amzn-Requestid"), start: time.Now()}
	if c.reqID == "" {
		c.reqID = audit.NewEventID()
		w.Header().Set("X-Amzn-Requestid", c.reqID)
	}
	ns := NamespaceIAM
	if h.audit != nil && h.audit.Accepting() != nil {
		// The trail refuses every record (its volume is full, or it
		// failed): act on no call that cannot be recorded.
		writeError(w, ns, c.reqID, errServiceFailure)
		return
	}
	c.err = h.handle(r, c)
	if c.op != nil && c.op.service == "sts" {
		ns = NamespaceSTS
	}
	if c.caller == nil && c.err != nil {
		h.failedAuth(r, c)
	} else if h.audit != nil && c.op != nil {
		if err := h.record(r, c); err != nil {
			h.log.Error("audit record not written; failing the call", "requestId", c.reqID, "err", err)
			c.out, c.err = nil, errServiceFailure
		}
	}
	if c.err != nil {
		writeError(w, ns, c.reqID, c.err)
		return
	}
	if err := writeResult(w, ns, c.action, c.reqID, c.out); err != nil {
		h.log.Warn("write response", "requestId", c.reqID, "err", err)
	}
}

func (h *Handler) handle(r *http.Request, c *call) *awserr.Error {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return awserr.New("InvalidAction", "Requests must be POST or GET.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return awserr.New("ValidationError", "The request body could not be read.")
	}
	if len(body) > MaxBody {
		return ErrTooLarge
	}
	// Parsing the form costs an allocation or two per parameter: before
	// the caller is known, a source past its failure budget gets no
	// parsing at all, and any other request at most MaxParams.
	query := r.URL.RawQuery
	if h.failed.Limited(sourceIP(r)) && !h.mayVerify(r) {
		// A source past its failure budget (or, in flood mode, any) is
		// not verified, unless its request names an access key in use
		// or the limiter grants it a lookup: a flood of made-up keys
		// costs a bounded number of store lookups.
		c.action = firstValue(query, body, "Action")
		c.op = operations[c.action]
		return ErrThrottled
	}
	if strings.Count(query, "&")+bytes.Count(body, []byte{'&'}) >= MaxParams {
		c.action = firstValue(query, body, "Action")
		c.op = operations[c.action]
		return awserr.Newf("ValidationError", "The request has more than %d parameters.", MaxParams)
	}
	form := r.URL.Query()
	if len(body) > 0 {
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return awserr.New("ValidationError", "The request body is not a valid form.")
		}
		for k, v := range bf {
			form[k] = append(form[k], v...)
		}
	}
	c.form = form
	c.action = form.Get("Action")
	c.op = operations[c.action]
	if c.op == nil {
		return awserr.Newf("InvalidAction", "Could not find operation %s for version %s", c.action, form.Get("Version"))
	}
	ctx := r.Context()
	res, err := h.verifier(c.op.service, r).Verify(ctx, r, body)
	if err != nil {
		c.akid = accessKeyFromHeader(r.Header.Get("Authorization"))
		return h.clientError(c, err)
	}
	c.akid = res.AccessKeyID
	caller, err := h.dir.Caller(ctx, res.AccessKeyID)
	if err != nil {
		return h.clientError(c, err)
	}
	caller.SourceIP = sourceIP(r)
	caller.SecureTransport = r.TLS != nil
	caller.UserAgent = r.UserAgent()
	c.caller = caller
	in := &input{form: form, caller: caller, h: h, creates: c.action == "CreateUser" || c.action == "CreateRole"}
	for attempt := 1; ; attempt++ {
		runCtx := ctx
		if c.op.action != "" {
			in.targetKind = ""
			resource, err := c.op.resource(ctx, in)
			if err != nil {
				return h.clientError(c, err)
			}
			if err := h.dir.AuthorizeIAM(ctx, caller, c.op.action, resource); err != nil {
				return h.clientError(c, err)
			}
			if in.targetKind != "" {
				// The action must act on the user or role it was
				// authorized on, not on one created since under
				// another path.
				runCtx = iam.WithTarget(ctx, in.targetKind, in.account(), in.targetName, in.targetID)
			}
		}
		in.err = nil
		out, err := c.op.run(runCtx, in)
		if errors.Is(err, iam.ErrTargetChanged) && attempt < 3 {
			continue
		}
		if err == nil {
			err = in.err
		}
		if err != nil {
			return h.clientError(c, err)
		}
		c.out = out
		return nil
	}
}

// MaxParams bounds the parameters of a request, query string and body
// together; the largest action takes fewer than 20.
const MaxParams = 256

// firstValue returns the value of the first parameter named name in the
// query string, else in the form body, without parsing the rest (an
// escaped name is not recognized): the action of a request refused before
// its form is parsed, for its record.
func firstValue(query string, body []byte, name string) string {
	if v, ok := scanValue(query, name); ok {
		return v
	}
	v, _ := scanValue(body, name)
	return v
}

func scanValue[S ~string | ~[]byte](s S, name string) (string, bool) {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '&' {
			i++
		}
		pair := s[:i]
		if i < len(s) {
			s = s[i+1:]
		} else {
			s = s[:0]
		}
		if len(pair) > len(name) && pair[len(name)] == '=' && string(pair[:len(name)]) == name {
			v, err := url.QueryUnescape(string(pair[len(name)+1:]))
			if err != nil {
				return "", true
			}
			return v, true
		}
	}
	return "", false
}

// mayVerify reports whether a request from a limited source is verified
// anyway: one naming an access key this node has in use, or one the
// limiter lets through (authfail.Limiter.AllowLookup).
func (h *Handler) mayVerify(r *http.Request) bool {
	akid := accessKeyFromHeader(r.Header.Get("Authorization"))
	if akid != "" && h.dir.Known(akid) {
		return true
	}
	return h.failed.AllowLookup(sourceIP(r), akid)
}

// failedAuth hands a request that ended before its caller was
// authenticated (unsigned, badly signed, unknown key, unknown action, body
// too large) to the failure limiter, which records it in a small fixed
// shape, never its parameters, and may turn its error into Throttling.
func (h *Handler) failedAuth(r *http.Request, c *call) {
	service := ScopeService(r.Header.Get("Authorization"))
	readOnly := true
	if c.op != nil {
		service, readOnly = c.op.service, c.op.readOnly
	}
	region := h.region
	if service == "iam" {
		region = "us-east-1"
	}
	if c.akid == "" {
		c.akid = accessKeyFromHeader(r.Header.Get("Authorization"))
	}
	f := &authfail.Failure{
		Time: c.start, Source: sourceIP(r), EventSource: service + ".amazonaws.com", EventName: c.action,
		Region: region, ReadOnly: readOnly, AccessKeyID: c.akid, UserAgent: r.UserAgent(),
		TLS: r.TLS != nil, Host: r.Host, RequestID: c.reqID, Err: c.err,
		Fault: statusOf(c.err.Code) >= 500,
		// A key found (with a wrong signature or session token, say) is
		// in use now; one not found cost a lookup.
		UnknownKey: c.err.Code == "InvalidClientTokenId" && c.akid != "" && !h.dir.Known(c.akid),
	}
	answer, err := h.failed.Fail(r.Context(), f, ErrThrottled)
	if err != nil {
		h.log.Error("audit record not written; failing the call", "requestId", c.reqID, "err", err)
		answer = errServiceFailure
	}
	c.out, c.err = nil, answer
}

// ScopeService returns the service of an Authorization header's credential
// scope when it is "sts", else "iam".
func ScopeService(auth string) string {
	if i := strings.Index(auth, "Credential="); i >= 0 {
		parts := strings.SplitN(auth[i+len("Credential="):], "/", 5)
		if len(parts) == 5 && parts[3] == "sts" {
			return "sts"
		}
	}
	return "iam"
}

// ErrorDocument is the query-protocol error response (status and XML body)
// for e, in service's namespace ("iam" or "sts").
func ErrorDocument(service, reqID string, e *awserr.Error) (status int, body []byte) {
	ns := NamespaceIAM
	if service == "sts" {
		ns = NamespaceSTS
	}
	w := &bufferWriter{h: http.Header{}}
	writeError(w, ns, reqID, e)
	return w.status, w.b
}

type bufferWriter struct {
	h      http.Header
	status int
	b      []byte
}

func (w *bufferWriter) Header() http.Header         { return w.h }
func (w *bufferWriter) WriteHeader(status int)      { w.status = status }
func (w *bufferWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// clientError returns the error a client sees for err, logging internal
// failures (which never carry secrets) with the request ID.
func (h *Handler) clientError(c *call, err error) *awserr.Error {
	if e := awserr.As(err); e != nil {
		if strings.HasSuffix(e.Code, "Exception") {
			return queryError(e)
		}
		return e
	}
	if errors.Is(err, context.Canceled) {
		return awserr.New("ServiceFailure", "The request was cancelled.")
	}
	h.log.Error("internal error", "requestId", c.reqID, "action", c.action, "err", err)
	return errServiceFailure
}

func sourceIP(r *http.Request) string {
	i := strings.LastIndexByte(r.RemoteAddr, ':')
	if i < 0 {
		return r.RemoteAddr
	}
	return strings.Trim(r.RemoteAddr[:i], "[]")
}

// accessKeyFromHeader extracts the access key ID of an Authorization header
// for the audit record of a request that failed authentication.
func accessKeyFromHeader(h string) string {
	i := strings.Index(h, "Credential=")
	if i < 0 {
		return ""
	}
	v := h[i+len("Credential="):]
	if j := strings.IndexByte(v, '/'); j > 0 && j <= 128 {
		return v[:j]
	}
	return ""
}
