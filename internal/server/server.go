package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/trentkms/trent/internal/api"
	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/console"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/metrics"
	"github.com/trentkms/trent/internal/pipeline"
	"github.com/trentkms/trent/internal/quota"
	"github.com/trentkms/trent/internal/sigv4"
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
	// Protocols serve the AWS JSON APIs other than KMS's (the CloudTrail
	// API), chosen by the prefix of their X-Amz-Target.
	Protocols []Protocol
	// Limits bound client connections.
	Limits Limits
	// FailedAuth limits and records the requests that fail before their
	// caller is authenticated; nil gets one with default settings that
	// writes to Audit. Shutdown closes it.
	FailedAuth *authfail.Limiter
	// Metrics, when set, measures the requests (api="kms").
	Metrics *metrics.Metrics
	// Console, when set, serves the requests console.Claims claims (GET
	// and HEAD under /console/, unsigned, with no query string); they
	// never reach an API.
	Console http.Handler
	// ShareConnections, when set, makes the connections of this Server's
	// listener count against that Server's limits (its Limits, not
	// this one's): one connection limit and one per-client limit for
	// the process, whichever listener a client connects to, as the
	// limit derived from RLIMIT_NOFILE must be.
	ShareConnections *Server
}

// Protocol is an AWS JSON API served beside KMS's.
type Protocol struct {
	// TargetPrefix selects the requests whose X-Amz-Target begins with
	// it (up to and including the dot before the operation name).
	TargetPrefix string
	// MaxBody bounds the body the HTTP server reads of its requests; the
	// handler applies its own limit.
	MaxBody int
	Handler http.Handler
}

// protocol returns the Protocol of an X-Amz-Target value, or nil. The
// KMS API's targets cost two byte comparisons.
func (s *Server) protocol(target string) *Protocol {
	// TrentService.*; TrentDevelopment.* (--dev) is a Protocol.
	if len(target) == 0 || (target[0] == 'T' && (len(target) < 6 || target[5] != 'D')) {
		return nil
	}
	for i := range s.cfg.Protocols {
		if p := &s.cfg.Protocols[i]; strings.HasPrefix(target, p.TargetPrefix) {
			return p
		}
	}
	return nil
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
	// pipe serves the KMS JSON requests.
	pipe *pipeline.Pipeline
	// tracker is the connection tracker of the listeners being served;
	// trackerMu serializes making one.
	tracker   atomic.Pointer[tracker]
	trackerMu sync.Mutex
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
	s.pipe = &pipeline.Pipeline{Directory: cfg.Directory, Audit: cfg.Audit, Failed: cfg.FailedAuth, Log: cfg.Logger, Errors: kmsErrors,
		Metrics: cfg.Metrics.API("kms", slices.Sorted(maps.Keys(api.Operations)))}
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
	owner := s
	if s.cfg.ShareConnections != nil {
		owner = s.cfg.ShareConnections
	}
	t := owner.useTracker()
	s.tracker.Store(t)
	ln = &limitListener{Listener: ln, t: t}
	if s.cfg.TLS != nil {
		ln = tlsListener(ln, s.cfg.TLS)
	}
	return s.fast.Serve(ln)
}

// useTracker returns the connection tracker of s's listeners, making one
// if none is in use, for one more listener (whose Close releases it).
func (s *Server) useTracker() *tracker {
	s.trackerMu.Lock()
	defer s.trackerMu.Unlock()
	t := s.tracker.Load()
	if t == nil || !t.use() {
		t = newTracker(s.cfg.Limits, s.cfg.TLS != nil, s.log)
		t.use()
		s.tracker.Store(t)
		go t.reap()
	}
	return t
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
	case s.cfg.Console != nil && console.Claims(r):
		s.cfg.Console.ServeHTTP(w, r)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if p := s.protocol(target); p != nil {
		p.Handler.ServeHTTP(w, r)
		return
	}
	if target == "" && s.cfg.Extra != nil && !(r.Method == http.MethodPost && awsjson.IsJSONContentType(r.Header.Get("Content-Type"))) {
		s.cfg.Extra.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodPost {
		awsjson.WriteError(w, awserr.New(awserr.UnknownOperation, "Requests must be POST with an X-Amz-Target header."))
		return
	}
	c := s.newCall(reqID, target)
	c.req = pipeline.Request{Ctx: r.Context(), Sig: sigv4.HTTPRequest(r), Body: r.Body, RemoteIP: pipeline.SourceIP(r.RemoteAddr),
		TLS: r.TLS != nil, Host: r.Host, UserAgent: r.UserAgent()}
	s.serve(c)
	if c.Err != nil {
		awsjson.WriteError(w, c.Err)
		return
	}
	if err := awsjson.WriteResponse(w, c.Out); err != nil {
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

// call is one KMS JSON request as the pipeline serves it (its Codec): the
// pipeline's Call, the request, and what the KMS codec keeps of them.
type call struct {
	pipeline.Call
	req    pipeline.Request
	s      *Server
	target string // the X-Amz-Target header
	op     *api.Operation
	in     any // the decoded input
	trace  kms.Trace
	kctx   kms.RequestContext // the context the operation runs in
}

// newCall returns the call of a request with this ID and target; the
// caller fills in c.req.
func (s *Server) newCall(reqID, target string) *call {
	c := &call{s: s, target: target}
	c.ReqID, c.Start = reqID, time.Now()
	return c
}

// serve runs the pipeline for c; its Out or Err is the answer.
func (s *Server) serve(c *call) { s.pipe.Serve(c, &c.req) }

// Open implements pipeline.Codec: the KMS API checks nothing before
// admission.
func (c *call) Open(*pipeline.Request) *awserr.Error { return nil }

// Peek implements pipeline.Codec: the target names the operation.
func (c *call) Peek(*pipeline.Request) {
	c.Name, _ = c.s.resolve(c.target)
	c.op = api.Operations[c.Name]
}

// Lookup implements pipeline.Codec: the operation of the target, and the
// body within its limit.
func (c *call) Lookup(r *pipeline.Request) ([]byte, *awserr.Error) {
	var e *awserr.Error
	if c.Name, e = c.s.resolve(c.target); e != nil {
		return nil, e
	}
	c.op = api.Operations[c.Name]
	body, err := readBody(r, c.op.MaxBody)
	if err != nil {
		if e := awserr.As(err); e != nil {
			return nil, e
		}
		return nil, awserr.New(awserr.Serialization, "The request body could not be read.")
	}
	return body, nil
}

// readBody returns the request body, or RequestEntityTooLargeException if
// it exceeds limit.
func readBody(r *pipeline.Request, limit int64) ([]byte, error) {
	if !r.HasRaw {
		return awsjson.ReadBody(r.Body, limit)
	}
	if int64(len(r.Raw)) > limit {
		return nil, awsjson.ErrTooLarge(limit)
	}
	return r.Raw, nil
}

// Verifier implements pipeline.Codec.
func (c *call) Verifier(*pipeline.Request) *sigv4.Verifier { return c.s.verifier }

// Deadline implements pipeline.Codec.
func (c *call) Deadline() time.Duration { return c.op.Deadline }

// Run implements pipeline.Codec: the operation runs in a context that
// carries its caller and the trace of the keys and grants it used.
func (c *call) Run(ctx context.Context) error {
	c.kctx = kms.RequestContext{Context: ctx, Caller: c.Caller, Trace: &c.trace}
	if k := c.s.cfg.Services.KMS; k != nil && c.Caller != nil && !k.Quotas().AllowOperation(c.Caller.Account, c.Name) {
		return quota.ErrThrottled
	}
	in, out, err := c.op.Invoke(&c.kctx, &c.s.cfg.Services, c.Body)
	c.in = in
	if err != nil {
		return err
	}
	c.Out = out
	return nil
}

// Describe implements pipeline.Codec.
func (c *call) Describe(f *authfail.Failure) {
	f.EventSource, f.EventName, f.Region = audit.EventSource, c.Name, c.s.cfg.Region
	if f.EventName == "" {
		f.EventName = c.target
	}
	f.ReadOnly = c.op == nil || c.op.ReadOnly
}

// Finish implements pipeline.Codec: a cryptographic operation that
// succeeded counts as a use of its keys.
func (c *call) Finish() {
	if c.Err == nil && c.op != nil && c.op.Crypto && len(c.trace.KeyARNs) > 0 {
		c.s.cfg.Services.Jobs.RecordUsage(c.trace.KeyARNs, c.Name, c.EventID, c.ReqID, c.Start)
	}
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

// errThrottled is AWS KMS's answer to a caller over its rate.
var errThrottled = awserr.New(awserr.Throttling, "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")

// kmsErrors are the KMS API's forms of the pipeline's errors.
var kmsErrors = pipeline.Errors{
	Throttled:   errThrottled,
	Internal:    awserr.Internal(),
	Cancelled:   awserr.New(awserr.KMSInternal, "The request was cancelled."),
	Unavailable: awserr.New(awserr.DependencyTimeout, "The system timed out while trying to fulfill the request."),
	UnknownKey:  awserr.UnrecognizedClient,
	Status:      awserr.HTTPStatus,
}
