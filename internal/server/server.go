package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/trentkms/trent/internal/api"
	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/sigv4"
	"github.com/trentkms/trent/internal/store"
)

// Config configures a Server.
type Config struct {
	// Services are the domain services the operations run on.
	Services  api.Services
	Directory *iam.Directory
	// Audit receives a record of every call; nil disables the audit trail.
	Audit  *audit.Log
	Region string
	Logger *slog.Logger
	// TLS, when set, makes Serve speak HTTPS.
	TLS *tls.Config
	// Now is the clock for signature verification (default time.Now).
	Now func() time.Time
	// Ready reports whether dependencies are reachable (for /readyz).
	Ready func(ctx context.Context) error
	// Extra handles requests that are not KMS JSON requests (the IAM and
	// STS query APIs); nil answers them with UnknownOperationException.
	Extra http.Handler
	// Limits bound client connections.
	Limits Limits
	// FailedAuth limits and records the requests that fail before their
	// caller is authenticated; nil gets one with default settings that
	// writes to Audit. Shutdown closes it.
	FailedAuth *authfail.Limiter
}

// Server serves the AWS KMS API.
type Server struct {
	cfg      Config
	verifier *sigv4.Verifier
	log      *slog.Logger
	fast     *fasthttp.Server
	// slowHandler runs ServeHTTP for what serveFast does not serve itself.
	slowHandler fasthttp.RequestHandler
	// baseCtx is the context of every KMS request served by fasthttp.
	baseCtx  context.Context
	draining atomic.Bool
	failed   *authfail.Limiter
	// tracker is the connection tracker of the listener being served.
	tracker atomic.Pointer[tracker]
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits.IdleTimeout <= 0 {
		cfg.Limits.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Limits.ReadTimeout <= 0 {
		cfg.Limits.ReadTimeout = DefaultReadTimeout
	}
	if cfg.FailedAuth == nil {
		cfg.FailedAuth = authfail.New(authfail.Config{Audit: cfg.Audit, Logger: cfg.Logger})
	}
	s := &Server{cfg: cfg, log: cfg.Logger, failed: cfg.FailedAuth}
	s.verifier = &sigv4.Verifier{Source: cfg.Directory, Region: cfg.Region, Services: []string{"kms"}, Now: cfg.Now}
	s.fast = s.newFastServer(cfg.Limits)
	s.slowHandler = fasthttpadaptor.NewFastHTTPHandler(s)
	s.baseCtx = context.Background()
	return s
}

// Serve accepts connections on ln until Shutdown, within Config.Limits.
// Failed accepts (out of file descriptors, aborted connections) are
// retried, never returned.
func (s *Server) Serve(ln net.Listener) error {
	t := newTracker(s.cfg.Limits, s.cfg.TLS != nil, s.log)
	s.tracker.Store(t)
	go t.reap()
	ln = &limitListener{Listener: ln, t: t}
	if s.cfg.TLS != nil {
		ln = tlsListener(ln, s.cfg.TLS)
	}
	return s.fast.Serve(ln)
}

// Shutdown stops accepting requests and waits for in-flight ones to finish,
// then writes the aggregated records of failed requests still pending.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	err := s.fast.ShutdownWithContext(ctx)
	s.failed.Close()
	st := s.Stats()
	s.log.Info("server stopped", "connections", st.Connections.Accepted, "refused", st.Connections.Rejected,
		"evicted", st.Connections.Evicted, "timedOut", st.Connections.TimedOut, "acceptErrors", st.Connections.AcceptErrors,
		"failedAuthentications", st.FailedAuth.Failures, "throttled", st.FailedAuth.Throttled,
		"unknownKeys", st.FailedAuth.UnknownKeys, "lookupsRefused", st.FailedAuth.LookupsRefused, "floods", st.FailedAuth.Floods)
	return err
}

// Stats are a Server's counters, for metrics.
type Stats struct {
	Connections ConnStats
	FailedAuth  authfail.Stats
}

// Stats returns the Server's counters.
func (s *Server) Stats() Stats {
	var st Stats
	if t := s.tracker.Load(); t != nil {
		st.Connections = t.stats()
	}
	st.FailedAuth = s.failed.Stats()
	return st
}

// newRequestID returns a random UUID-formatted request ID.
func newRequestID() string { return audit.NewEventID() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header()["X-Amzn-Requestid"] = []string{reqID}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "requestId", reqID, "panic", p, "stack", string(debug.Stack()))
			awsjson.WriteError(w, awserr.Internal())
		}
	}()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		w.Write([]byte("ok\n"))
		return
	case r.Method == http.MethodGet && r.URL.Path == "/readyz":
		s.readyz(w, r)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if target == "" && s.cfg.Extra != nil && !(r.Method == http.MethodPost && awsjson.IsJSONContentType(r.Header.Get("Content-Type"))) {
		s.cfg.Extra.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodPost {
		awsjson.WriteError(w, awserr.New(awserr.UnknownOperation, "Requests must be POST with an X-Amz-Target header."))
		return
	}
	in := &inbound{ctx: r.Context(), sig: sigv4.HTTPRequest(r), body: r.Body, remoteIP: sourceIP(r),
		tls: r.TLS != nil, host: r.Host, userAgent: r.UserAgent()}
	c := s.serveKMS(in, reqID, target)
	if c.err != nil {
		awsjson.WriteError(w, c.err)
		return
	}
	if err := awsjson.WriteResponse(w, c.out); err != nil {
		s.log.Warn("write response", "requestId", reqID, "err", err)
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "draining\n", http.StatusServiceUnavailable)
		return
	}
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error()+"\n", http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ready\n"))
}

// call is what the pipeline knows about one request, for the audit record.
type call struct {
	reqID  string
	start  time.Time
	op     *api.Operation
	name   string
	caller *kms.Caller
	akid   string
	body   []byte
	in     any
	out    any
	err    *awserr.Error
	trace  kms.Trace
	kctx   kms.RequestContext // the context the operation runs in
	// eventID is the audit record's event ID (CloudTrailEventId).
	eventID string
}

// inbound is one KMS JSON request as the pipeline sees it, whichever HTTP
// server parsed it.
type inbound struct {
	ctx context.Context
	sig sigv4.Request
	// body is read up to the operation's limit, unless hasRaw is set: raw
	// is then the body an HTTP server has already read whole, in a buffer
	// it reuses once the request is answered (nothing may keep it).
	body      io.Reader
	raw       []byte
	hasRaw    bool
	remoteIP  string
	tls       bool
	host      string
	userAgent string
}

// readBody returns the request body, or RequestEntityTooLargeException if
// it exceeds limit.
func (in *inbound) readBody(limit int64) ([]byte, error) {
	if !in.hasRaw {
		return awsjson.ReadBody(in.body, limit)
	}
	if int64(len(in.raw)) > limit {
		return nil, awsjson.ErrTooLarge(limit)
	}
	return in.raw, nil
}

// serveKMS runs the whole pipeline for one request and returns the call,
// whose out or err the caller writes back.
func (s *Server) serveKMS(in *inbound, reqID, target string) *call {
	c := &call{reqID: reqID, start: time.Now()}
	if s.failed.Limited(in.remoteIP) && !s.mayVerify(in) {
		// A source past its failure budget (or, in flood mode, any) is
		// not verified, unless its request names an access key in use
		// or the limiter grants it a lookup: a flood of made-up keys
		// costs a bounded number of store lookups.
		c.name, _ = s.resolve(target)
		c.op = api.Operations[c.name]
		c.err = errThrottled

		s.failedAuth(in, c, target)
		return c
	}
	if s.cfg.Audit != nil && s.cfg.Audit.Accepting() != nil {
		// The trail refuses every record (its volume is full, or it
		// failed): do not act on a call that cannot be recorded. The
		// Log logs why, at a bounded rate; /readyz reports it.
		c.err = awserr.Internal()
		return c
	}
	c.name, c.err = s.resolve(target)
	if c.err == nil {
		c.op = api.Operations[c.name]
		c.err = s.handle(in, c)
	}
	if c.caller == nil && c.err != nil {
		s.failedAuth(in, c, target)
		return c
	}
	if s.cfg.Audit != nil {
		if err := s.audit(in, c); err != nil {
			s.log.Error("audit record not written; failing the call", "requestId", reqID, "err", err)
			c.out, c.err = nil, awserr.Internal()
		}
	}
	if c.err == nil && c.op != nil && c.op.Crypto && len(c.trace.KeyARNs) > 0 {
		s.cfg.Services.Jobs.RecordUsage(c.trace.KeyARNs, c.name, c.eventID, reqID, c.start)
	}
	return c
}

func (s *Server) resolve(target string) (string, *awserr.Error) {
	name, err := awsjson.ParseTarget(target, "TrentService")
	if err != nil {
		return "", awserr.As(err)
	}
	if api.Operations[name] == nil {
		return name, awserr.Newf(awserr.UnknownOperation, "The operation %s is not supported by this service.", name)
	}
	return name, nil
}

// handle authenticates and runs the operation, leaving its output or error
// in c. It returns the client-visible error.
func (s *Server) handle(in *inbound, c *call) *awserr.Error {
	body, err := in.readBody(c.op.MaxBody)
	if err != nil {
		if e := awserr.As(err); e != nil {
			return e
		}
		return awserr.New(awserr.Serialization, "The request body could not be read.")
	}
	c.body = body
	ctx := in.ctx
	res, err := s.verifier.VerifyRequest(ctx, in.sig, body)
	if err != nil {
		auth, _ := in.sig.Header("Authorization", 0)
		c.akid = strings.Clone(accessKeyFromHeader(auth)) // auth may alias a reused buffer
		return s.clientError(c.reqID, err)
	}
	c.akid = res.AccessKeyID
	caller, err := s.cfg.Directory.Caller(ctx, res.AccessKeyID)
	if err != nil {
		return s.clientError(c.reqID, err)
	}
	caller.SourceIP = in.remoteIP
	caller.SecureTransport = in.tls
	caller.UserAgent = in.userAgent
	c.caller = caller
	c.kctx = kms.RequestContext{Context: ctx, Caller: caller, Trace: &c.trace}
	ctx = &c.kctx
	in2, out, err := c.op.Invoke(ctx, &s.cfg.Services, body)
	c.in = in2
	if err != nil {
		return s.clientError(c.reqID, err)
	}
	c.out = out
	return nil
}

// errThrottled is AWS KMS's answer to a caller over its rate.
var errThrottled = awserr.New(awserr.Throttling, "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")

// mayVerify reports whether a request from a limited source is verified
// anyway: one naming an access key this node has in use (verifying it
// costs no store lookup), or one the limiter lets through (see
// authfail.Limiter.AllowLookup: a client new to the node or whose key
// dropped out of the cache gets in, a flood of made-up keys costs a
// bounded number of lookups).
func (s *Server) mayVerify(in *inbound) bool {
	auth, _ := in.sig.Header("Authorization", 0)
	akid := accessKeyFromHeader(auth)
	if akid != "" && s.cfg.Directory != nil && s.cfg.Directory.Known(akid) {
		return true
	}
	return s.failed.AllowLookup(in.remoteIP, akid)
}

// failedAuth hands a request that ended before its caller was
// authenticated to the failure limiter, which records it in a small fixed
// shape (never its body) and may turn its error into ThrottlingException.
func (s *Server) failedAuth(in *inbound, c *call, target string) {
	if c.akid == "" {
		auth, _ := in.sig.Header("Authorization", 0)
		c.akid = strings.Clone(accessKeyFromHeader(auth)) // auth may alias a reused buffer
	}
	name := c.name
	if name == "" {
		name = target
	}
	f := &authfail.Failure{
		Time: c.start, Source: in.remoteIP, EventSource: audit.EventSource, EventName: name,
		Region: s.cfg.Region, ReadOnly: c.op == nil || c.op.ReadOnly, AccessKeyID: c.akid,
		UserAgent: in.userAgent, TLS: in.tls, Host: in.host, RequestID: c.reqID, Err: c.err,
		Fault: awserr.HTTPStatus(c.err.Code) >= 500,
		// A key found (with a wrong signature or session token, say) is
		// in use now; one not found cost a lookup.
		UnknownKey: c.err.Code == awserr.UnrecognizedClient && c.akid != "" &&
			(s.cfg.Directory == nil || !s.cfg.Directory.Known(c.akid)),
	}
	answer, err := s.failed.Fail(in.ctx, f, errThrottled)
	if err != nil {
		s.log.Error("audit record not written; failing the call", "requestId", c.reqID, "err", err)
		answer = awserr.Internal()
	}
	c.err = answer
}

// clientError returns the error a client sees for err, logging internal ones.
func (s *Server) clientError(reqID string, err error) *awserr.Error {
	if e := awserr.As(err); e != nil {
		return e
	}
	if errors.Is(err, context.Canceled) {
		return awserr.New(awserr.KMSInternal, "The request was cancelled.")
	}
	if errors.Is(err, store.ErrUnavailable) {
		// The database is down or unreachable (for example while the
		// access key is looked up): a retryable dependency failure.
		s.log.Warn("store unavailable", "requestId", reqID, "err", err)
		return awserr.New(awserr.DependencyTimeout, "The system timed out while trying to fulfill the request.")
	}
	s.log.Error("internal error", "requestId", reqID, "err", err)
	return awserr.Internal()
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
