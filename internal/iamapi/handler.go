package iamapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/metrics"
	"github.com/trentkms/trent/internal/pipeline"
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
	// Metrics, when set, measures the requests (api="query").
	Metrics *metrics.Metrics
}

// ErrThrottled is the query APIs' answer to a caller over its rate.
var ErrThrottled = awserr.New("Throttling", "Rate exceeded")

// ErrTooLarge is the answer to a body over MaxBody.
var ErrTooLarge = awserr.New("ValidationError", "Request body too large.")

// Handler serves the IAM and STS query APIs. It is safe for concurrent use.
type Handler struct {
	dir       *iam.Directory
	region    string
	log       *slog.Logger
	verifiers map[string]*sigv4.Verifier // service + "/" + region
	pipe      *pipeline.Pipeline
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FailedAuth == nil {
		cfg.FailedAuth = authfail.New(authfail.Config{Audit: cfg.Audit, Logger: cfg.Logger})
	}
	h := &Handler{dir: cfg.Directory, region: cfg.Region, log: cfg.Logger, verifiers: map[string]*sigv4.Verifier{}}
	h.pipe = &pipeline.Pipeline{Directory: cfg.Directory, Audit: cfg.Audit, Failed: cfg.FailedAuth, Log: cfg.Logger,
		Errors: queryErrors, TrailFirst: true, Metrics: cfg.Metrics.API("query", slices.Sorted(maps.Keys(operations)))}
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
func (h *Handler) verifier(service, auth string) *sigv4.Verifier {
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

// errServiceFailure is IAM's and STS's internal error.
var errServiceFailure = awserr.New("ServiceFailure", "Request processing has failed due to some unknown error, exception or failure.")

// queryErrors are the query APIs' forms of the pipeline's errors.
var queryErrors = pipeline.Errors{
	Throttled:  ErrThrottled,
	Internal:   errServiceFailure,
	Cancelled:  awserr.New("ServiceFailure", "The request was cancelled."),
	UnknownKey: "InvalidClientTokenId",
	Convert: func(e *awserr.Error) *awserr.Error {
		if strings.HasSuffix(e.Code, "Exception") {
			return queryError(e)
		}
		return e
	},
	Status: statusOf,
}

// call is one IAM or STS request as the pipeline serves it (its Codec):
// the pipeline's Call, the request, and what the query codec keeps of them.
type call struct {
	pipeline.Call
	req    pipeline.Request
	h      *Handler
	r      *http.Request
	body   []byte
	op     *operation
	action string
	form   url.Values
}

// ServeHTTP implements http.Handler. It answers every request with AWS's
// query-protocol XML: a result document, or an ErrorResponse.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{h: h, r: r}
	c.ReqID, c.Start = w.Header().Get("X-Amzn-Requestid"), time.Now()
	if c.ReqID == "" {
		c.ReqID = audit.NewEventID()
		w.Header().Set("X-Amzn-Requestid", c.ReqID)
	}
	c.req = pipeline.Request{Ctx: r.Context(), Sig: sigv4.HTTPRequest(r), Body: r.Body, RemoteIP: pipeline.SourceIP(r.RemoteAddr),
		TLS: r.TLS != nil, Host: r.Host, UserAgent: r.UserAgent()}
	h.pipe.Serve(c, &c.req)
	ns := NamespaceIAM
	if c.op != nil && c.op.service == "sts" {
		ns = NamespaceSTS
	}
	if c.Err != nil {
		writeError(w, ns, c.ReqID, c.Err)
		return
	}
	if err := writeResult(w, ns, c.action, c.ReqID, c.Out); err != nil {
		h.log.Warn("write response", "requestId", c.ReqID, "err", err)
	}
}

// TooLarge answers a request whose body the HTTP server refused, unread,
// as over MaxBody (with its status and XML body): a request that failed
// before its caller was known, recorded under the service of its
// signature's scope.
func (h *Handler) TooLarge(r *pipeline.Request, reqID string) (status int, body []byte) {
	c := &call{h: h, req: *r}
	c.ReqID, c.Start = reqID, time.Now()
	h.pipe.Reject(c, &c.req, ErrTooLarge)
	auth, _ := r.Sig.Header("Authorization", 0)
	return ErrorDocument(ScopeService(auth), reqID, c.Err)
}

// Open implements pipeline.Codec: the method, and the body (its form names
// the action).
func (c *call) Open(*pipeline.Request) *awserr.Error {
	if c.r.Method != http.MethodPost && c.r.Method != http.MethodGet {
		return awserr.New("InvalidAction", "Requests must be POST or GET.")
	}
	body, err := io.ReadAll(io.LimitReader(c.r.Body, MaxBody+1))
	if err != nil {
		return awserr.New("ValidationError", "The request body could not be read.")
	}
	if len(body) > MaxBody {
		return ErrTooLarge
	}
	c.body = body
	return nil
}

// Peek implements pipeline.Codec: the action of a request refused before
// its form is parsed, for its record.
func (c *call) Peek(*pipeline.Request) {
	c.setAction(firstValue(c.r.URL.RawQuery, c.body, "Action"))
}

func (c *call) setAction(action string) {
	c.action, c.Name = action, action
	c.op = operations[action]
}

// Lookup implements pipeline.Codec: the form (query string and body) and
// its action. Parsing the form costs an allocation or two per parameter:
// before the caller is known, a source past its failure budget gets no
// parsing at all (Peek), and any other request at most MaxParams.
func (c *call) Lookup(*pipeline.Request) ([]byte, *awserr.Error) {
	query, body := c.r.URL.RawQuery, c.body
	if strings.Count(query, "&")+bytes.Count(body, []byte{'&'}) >= MaxParams {
		c.Peek(nil)
		return nil, awserr.Newf("ValidationError", "The request has more than %d parameters.", MaxParams)
	}
	form := c.r.URL.Query()
	if len(body) > 0 {
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, awserr.New("ValidationError", "The request body is not a valid form.")
		}
		for k, v := range bf {
			form[k] = append(form[k], v...)
		}
	}
	c.form = form
	c.setAction(form.Get("Action"))
	if c.op == nil {
		return nil, awserr.Newf("InvalidAction", "Could not find operation %s for version %s", c.action, form.Get("Version"))
	}
	return body, nil
}

// Verifier implements pipeline.Codec: the operation's service, in the
// region of the credential scope.
func (c *call) Verifier(r *pipeline.Request) *sigv4.Verifier {
	auth, _ := r.Sig.Header("Authorization", 0)
	return c.h.verifier(c.op.service, auth)
}

// Deadline implements pipeline.Codec.
func (c *call) Deadline() time.Duration {
	if c.op.deadline > 0 {
		return c.op.deadline
	}
	return defaultDeadline
}

// Run implements pipeline.Codec: the IAM action is authorized on the
// resource the request targets, then the operation runs on it.
func (c *call) Run(ctx context.Context) error {
	h, caller := c.h, c.Caller
	in := &input{form: c.form, caller: caller, h: h, creates: c.action == "CreateUser" || c.action == "CreateRole"}
	for attempt := 1; ; attempt++ {
		runCtx := ctx
		if c.op.action != "" {
			in.targetKind = ""
			resource, err := c.op.resource(ctx, in)
			if err != nil {
				return err
			}
			if err := h.dir.AuthorizeIAM(ctx, caller, c.op.action, resource); err != nil {
				return err
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
			return err
		}
		c.Out = out
		return nil
	}
}

// Describe implements pipeline.Codec: a request whose action is unknown is
// recorded under the service of its signature's scope.
func (c *call) Describe(f *authfail.Failure) {
	auth, _ := c.req.Sig.Header("Authorization", 0)
	service, readOnly := ScopeService(auth), true
	if c.op != nil {
		service, readOnly = c.op.service, c.op.readOnly
	}
	f.EventSource, f.EventName, f.Region, f.ReadOnly = service+".amazonaws.com", c.action, c.h.region, readOnly
	if service == "iam" {
		f.Region = "us-east-1"
	}
}

// Finish implements pipeline.Codec.
func (c *call) Finish() {}

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
