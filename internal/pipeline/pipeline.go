package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/metrics"
	"github.com/trentkms/trent/internal/sigv4"
	"github.com/trentkms/trent/internal/store"
)

// Request is one request as the pipeline sees it, whichever HTTP server
// parsed it.
type Request struct {
	// Ctx is the request's context: verification, the caller lookup and
	// the audit record use it; the operation runs under its deadline.
	Ctx context.Context
	Sig sigv4.Request
	// Body is read up to the operation's limit, unless HasRaw is set: Raw
	// is then the body an HTTP server has already read whole, in a buffer
	// it reuses once the request is answered (nothing may keep it).
	Body      io.Reader
	Raw       []byte
	HasRaw    bool
	TLS       bool // beside HasRaw: the server's per-request state fills a size class
	RemoteIP  string
	Host      string
	UserAgent string
}

// Call is what the pipeline knows of one request: a codec embeds it.
type Call struct {
	ReqID string
	Start time.Time
	// Name is the operation's name, once known.
	Name   string
	Caller *kms.Caller
	// AccessKeyID is the access key the request was signed with (or
	// claims, if verification failed).
	AccessKeyID string
	// Body is the request body, once read; it may alias the HTTP server's
	// buffer (Request.Raw).
	Body []byte
	// Out is the operation's result, Err the error the client sees.
	Out any
	Err *awserr.Error
	// EventID is the audit record's event ID, once written.
	EventID string
	// deadline is the context the operation runs in.
	deadline Deadline
}

// Base returns c: a codec that embeds a Call implements Codec.Base with it.
func (c *Call) Base() *Call { return c }

// Codec is one request in a protocol's terms. The pipeline calls its
// methods in the order of the package documentation; a method that
// returns an error ends the request with it.
type Codec interface {
	// Base returns the pipeline's record of the request.
	Base() *Call
	// Open runs the protocol's checks that come before admission.
	Open(r *Request) *awserr.Error
	// Peek names the operation of a request refused unverified (for its
	// record), reading no more of the request than Open did.
	Peek(r *Request)
	// Lookup finds the operation (setting Call.Name) and returns the
	// body, read within the operation's limit.
	Lookup(r *Request) ([]byte, *awserr.Error)
	// Verifier returns the verifier of the operation's signatures.
	Verifier(r *Request) *sigv4.Verifier
	// Deadline is how long the operation may run.
	Deadline() time.Duration
	// Run decodes the input, authorizes and runs the operation in ctx (the
	// caller is Call.Caller), leaving its result in Call.Out.
	Run(ctx context.Context) error
	// Describe fills in the protocol's fields of the record of a request
	// that failed before its caller was known: EventSource, EventName,
	// Region, ReadOnly, Fault.
	Describe(f *authfail.Failure)
	// Record fills in the protocol's fields of the audit record of a call
	// (the pipeline has set the caller, the request and the error): the
	// event source and name, region, read-only flag, request parameters,
	// resources, response elements.
	Record(r *Request, ev *audit.Event)
	// Finish runs after the call is recorded (or was not to be).
	Finish()
}

// Errors are a protocol's wire forms of the pipeline's own errors.
type Errors struct {
	// Throttled answers a source past its failure budget.
	Throttled *awserr.Error
	// Internal answers an internal failure, a call the trail refuses or
	// a record not written.
	Internal *awserr.Error
	// Cancelled answers a request whose client went away.
	Cancelled *awserr.Error
	// Unavailable answers a request that failed on an unreachable store
	// or ran past its deadline; nil answers Internal.
	Unavailable *awserr.Error
	// UnknownKey is the code of the error for an access key not found.
	UnknownKey string
	// Convert returns a domain error in the protocol's form; nil keeps it.
	Convert func(*awserr.Error) *awserr.Error
	// Status is the HTTP status of an error code.
	Status func(code string) int
}

// Pipeline serves the requests of one protocol.
type Pipeline struct {
	Directory *iam.Directory
	// Audit receives the record of every call; nil disables the trail.
	Audit *audit.Log
	// Failed limits and records the requests that fail before their
	// caller is authenticated.
	Failed *authfail.Limiter
	Log    *slog.Logger
	Errors Errors
	// TrailFirst checks the trail's refusal before Open and the failure
	// budget (the query APIs), not after them (the KMS API).
	TrailFirst bool
	// Metrics measures the requests; nil measures nothing.
	Metrics *metrics.API
}

// Serve runs the pipeline for the request x, r. The answer is x's Call:
// Err, or Out.
func (p *Pipeline) Serve(x Codec, r *Request) {
	p.serve(x, r)
	p.done(x.Base(), r)
}

// done measures and, at debug level, logs a request that was answered.
func (p *Pipeline) done(c *Call, r *Request) {
	d := time.Since(c.Start)
	code := ""
	if c.Err != nil {
		code = c.Err.Code
	}
	p.Metrics.Request(c.Name, code, code != "" && p.Errors.Status(code) >= 500, d)
	if p.Log.Enabled(r.Ctx, slog.LevelDebug) {
		p.Log.Debug("request", "requestId", c.ReqID, "operation", c.Name, "error", code,
			"durationMs", float64(d.Microseconds())/1000, "source", r.RemoteIP)
	}
}

func (p *Pipeline) serve(x Codec, r *Request) {
	c := x.Base()
	if p.TrailFirst && p.refusing() {
		c.Err = p.Errors.Internal
		return
	}
	if c.Err = x.Open(r); c.Err != nil {
		p.failedAuth(x, r)
		return
	}
	if p.Failed.Limited(r.RemoteIP) && !p.mayVerify(r) {
		// A source past its failure budget (or, in flood mode, any) is
		// not verified, unless its request names an access key in use
		// or the limiter grants it a lookup: a flood of made-up keys
		// costs a bounded number of store lookups.
		x.Peek(r)
		p.Metrics.Throttled(metrics.ThrottleSourceLimited)
		c.Err = p.Errors.Throttled
		p.failedAuth(x, r)
		return
	}
	if !p.TrailFirst && p.refusing() {
		c.Err = p.Errors.Internal
		return
	}
	body, err := x.Lookup(r)
	if err == nil {
		err = p.run(x, r, body)
	}
	c.Err = err
	if c.Caller == nil && c.Err != nil {
		p.failedAuth(x, r)
		return
	}
	if p.Audit != nil {
		if err := p.record(x, r); err != nil {
			p.Log.Error("audit record not written; failing the call", "requestId", c.ReqID, "err", err)
			c.Out, c.Err = nil, p.Errors.Internal
		}
	}
	x.Finish()
}

// Reject answers a request the HTTP server refused before the pipeline
// could read it (a body over its limit) with err, recorded as a request
// that failed before its caller was known. Lookup names the operation
// when it can.
func (p *Pipeline) Reject(x Codec, r *Request, err *awserr.Error) {
	x.Base().Err = err
	p.failedAuth(x, r)
	p.done(x.Base(), r)
}

// refusing reports whether the trail refuses every record (its volume is
// full, or it failed): no call is acted on that cannot be recorded. The
// Log logs why, at a bounded rate; /readyz reports it.
func (p *Pipeline) refusing() bool {
	return p.Audit != nil && p.Audit.Accepting() != nil
}

// run authenticates the request and runs its operation. It returns the
// client-visible error.
func (p *Pipeline) run(x Codec, r *Request, body []byte) *awserr.Error {
	c := x.Base()
	c.Body = body
	res, err := x.Verifier(r).VerifyRequest(r.Ctx, r.Sig, body)
	if err != nil {
		auth, _ := r.Sig.Header("Authorization", 0)
		c.AccessKeyID = strings.Clone(AccessKeyFromHeader(auth)) // auth may alias a reused buffer
		return p.clientError(c, err)
	}
	c.AccessKeyID = res.AccessKeyID
	caller, err := p.Directory.Caller(r.Ctx, res.AccessKeyID)
	if err != nil {
		return p.clientError(c, err)
	}
	caller.SourceIP = r.RemoteIP
	caller.SecureTransport = r.TLS
	caller.UserAgent = r.UserAgent
	caller.Region = res.Region
	if caller.Service != "" {
		// aws:SourceArn, which only a service principal states
		// (docs/services.md); the verifier required it signed, as every
		// X-Amz-* header.
		if v, ok := r.Sig.Header("X-Amz-Source-Arn", 0); ok && len(v) <= 2048 {
			caller.SourceARN = strings.Clone(v)
		}
	}
	c.Caller = caller
	c.deadline.init(r.Ctx, c.Start.Add(x.Deadline()), &c.ReqID)
	err = x.Run(&c.deadline)
	c.deadline.release()
	if err != nil {
		return p.clientError(c, err)
	}
	return nil
}

// mayVerify reports whether a request from a limited source is verified
// anyway: one naming an access key this node has in use (verifying it
// costs no store lookup), or one the limiter lets through (see
// authfail.Limiter.AllowLookup: a client new to the node or whose key
// dropped out of the cache gets in, a flood of made-up keys costs a
// bounded number of lookups).
func (p *Pipeline) mayVerify(r *Request) bool {
	auth, _ := r.Sig.Header("Authorization", 0)
	akid := AccessKeyFromHeader(auth)
	if akid != "" && p.Directory != nil && p.Directory.Known(akid) {
		return true
	}
	return p.Failed.AllowLookup(r.RemoteIP, akid)
}

// failedAuth hands a request that ended before its caller was
// authenticated to the failure limiter, which records it in a small fixed
// shape (never its body) and may turn its error into Errors.Throttled.
func (p *Pipeline) failedAuth(x Codec, r *Request) {
	c := x.Base()
	if c.AccessKeyID == "" {
		auth, _ := r.Sig.Header("Authorization", 0)
		c.AccessKeyID = strings.Clone(AccessKeyFromHeader(auth)) // auth may alias a reused buffer
	}
	f := &authfail.Failure{
		Time: c.Start, Source: r.RemoteIP, AccessKeyID: c.AccessKeyID, UserAgent: r.UserAgent,
		TLS: r.TLS, Host: r.Host, RequestID: c.ReqID, Err: c.Err,
		Fault: p.Errors.Status(c.Err.Code) >= 500,
		// A key found (with a wrong signature or session token, say) is
		// in use now; one not found cost a lookup.
		UnknownKey: c.Err.Code == p.Errors.UnknownKey && c.AccessKeyID != "" &&
			(p.Directory == nil || !p.Directory.Known(c.AccessKeyID)),
	}
	x.Describe(f)
	if c.Err != p.Errors.Throttled {
		p.Metrics.AuthenticationFailure(c.Err.Code)
	}
	answer, err := p.Failed.Fail(r.Ctx, f, p.Errors.Throttled)
	if answer == p.Errors.Throttled && c.Err != p.Errors.Throttled {
		p.Metrics.Throttled(metrics.ThrottleFailureBudget)
	}
	if err != nil {
		p.Log.Error("audit record not written; failing the call", "requestId", c.ReqID, "err", err)
		answer = p.Errors.Internal
	}
	c.Out, c.Err = nil, answer
}

// clientError returns the error a client sees for err, logging internal
// ones (which never carry secrets) with the request ID.
func (p *Pipeline) clientError(c *Call, err error) *awserr.Error {
	if e := awserr.As(err); e != nil {
		if p.Errors.Convert != nil {
			return p.Errors.Convert(e)
		}
		return e
	}
	if errors.Is(err, context.Canceled) {
		return p.Errors.Cancelled
	}
	if p.Errors.Unavailable != nil {
		switch {
		case errors.Is(err, store.ErrUnavailable):
			// The database is down or unreachable (for example while
			// the access key is looked up): a retryable dependency
			// failure.
			p.Log.Warn("store unavailable", "requestId", c.ReqID, "err", err)
			return p.Errors.Unavailable
		case errors.Is(err, context.DeadlineExceeded) && c.deadline.passed():
			// Only the operation's own deadline: a dependency's
			// timeout keeps the answer it always had.
			p.Log.Warn("operation ran past its deadline", "requestId", c.ReqID, "operation", c.Name, "err", err)
			return p.Errors.Unavailable
		}
	}
	p.Log.Error("internal error", "requestId", c.ReqID, "operation", c.Name, "err", err)
	return p.Errors.Internal
}

// record writes the audit record of the call and returns only when it is
// durable.
func (p *Pipeline) record(x Codec, r *Request) error {
	c := x.Base()
	c.EventID = audit.NewEventID()
	ev := &audit.Event{
		EventVersion:    "1.11",
		EventTime:       eventTime(c.Start),
		SourceIPAddress: r.RemoteIP,
		UserAgent:       r.UserAgent,
		RequestID:       c.ReqID,
		EventID:         c.EventID,
		EventType:       "AwsApiCall",
		ManagementEvent: true,
		EventCategory:   "Management",
	}
	if c.Caller != nil {
		ev.UserIdentity = UserIdentity(c.Caller)
		ev.RecipientAccountID = c.Caller.Account
	} else if c.AccessKeyID != "" {
		ev.UserIdentity = &audit.UserIdentity{AccessKeyID: c.AccessKeyID}
	}
	if c.Err != nil {
		ev.ErrorCode, ev.ErrorMessage = c.Err.Code, c.Err.Message
	}
	x.Record(r, ev)
	// A call on another account's resource is recorded in that account
	// too (audit.OwnerCopies), unless it was refused.
	return p.Audit.AppendCall(r.Ctx, ev)
}

// SourceIP returns the host of a remote address (host:port).
func SourceIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// AccessKeyFromHeader extracts the access key ID of an Authorization
// header for the record of a request that failed authentication.
func AccessKeyFromHeader(h string) string {
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
