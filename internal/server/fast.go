package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/trentkms/trent/internal/api"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/iamapi"
	"github.com/trentkms/trent/internal/pipeline"
)

// The KMS JSON API is served by fasthttp, which parses a request and writes
// its response with a fraction of net/http's allocations and CPU (measured
// in docs/performance.md). Every other request (the IAM and STS query APIs,
// health checks) goes through ServeHTTP, the same net/http handler tests
// drive directly.

// maxWireBody bounds what the HTTP server reads of any request body; each
// operation then applies its own, smaller limit (api.Operation.MaxBody),
// before reading the body (bodyLimit).
const maxWireBody = 2 << 20

func (s *Server) newFastServer(l Limits) *fasthttp.Server {
	// fasthttp's own read deadline only backs up the tracker's read
	// timeout: it must not cut a request the tracker still allows.
	conn := max(l.IdleTimeout, l.ReadTimeout)
	return &fasthttp.Server{
		Handler:               s.serveFast,
		ErrorHandler:          s.fastError,
		HeaderReceived:        s.headerHook(),
		ConnState:             s.connState,
		NoDefaultServerHeader: true,
		// One value for reading a request, waiting for the next one
		// and writing a response: fasthttp then asks for the same
		// deadline (now + 60 s) three times per request, which
		// coarseConn turns into about one real update per second. The
		// tighter read timeout (Limits.ReadTimeout) is kept by the
		// tracker from connection states, without a deadline per
		// request.
		ReadTimeout:  conn,
		WriteTimeout: conn,
		IdleTimeout:  l.IdleTimeout,
		// The read buffer bounds the request line and headers.
		ReadBufferSize:     16 << 10,
		MaxRequestBodySize: maxWireBody,
		// A multipart body would be parsed (and spooled to disk when
		// large) before any handler could refuse it.
		DisablePreParseMultipartForm: true,
		Logger:                       fastLogger{s},
		// Its messages about a request it could not parse would quote
		// the bytes read: headers (a session token) and the body (a
		// plaintext) with them.
		SecureErrorLogMessage: true,
		CloseOnShutdown:       true,
	}
}

// targetLimits are the body limits by X-Amz-Target value.
var targetLimits = func() map[string]int {
	m := make(map[string]int, len(api.Operations))
	for name, op := range api.Operations {
		m["TrentService."+name] = int(op.MaxBody)
	}
	return m
}()

// minBodyLimit is the smallest body limit bodyLimit may set.
var minBodyLimit = func() int {
	n := min(unknownTargetMaxBody, queryMaxBody)
	for _, l := range targetLimits {
		n = min(n, l)
	}
	return n
}()

// Body limits of requests that name no operation of the table.
const (
	// unknownTargetMaxBody is for an X-Amz-Target naming no operation:
	// its answer (UnknownOperationException) needs no body.
	unknownTargetMaxBody = 4 << 10
	// queryMaxBody is for requests without X-Amz-Target: the IAM and
	// STS query APIs (and health checks, which have no body).
	queryMaxBody = iamapi.MaxBody
)

// bodyLimit is fasthttp's HeaderReceived hook: it sets the request's body
// limit from its operation before any of the body is read, so that a body
// over it is refused from its Content-Length (or, chunked, as soon as the
// chunks pass it) without being buffered. It runs for every request: a
// declared length within every limit (1 KiB) returns at once; a longer or
// chunked body costs one header lookup and one map lookup.
func bodyLimit(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if n := h.ContentLength(); n >= 0 && n <= minBodyLimit {
		// Within every limit (most requests): no lookup. fasthttp
		// reads no more than the declared length.
		return fasthttp.RequestConfig{}
	}
	t := h.Peek("X-Amz-Target")
	if len(t) == 0 {
		return fasthttp.RequestConfig{MaxRequestBodySize: queryMaxBody}
	}
	if n, ok := targetLimits[string(t)]; ok {
		return fasthttp.RequestConfig{MaxRequestBodySize: n}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: unknownTargetMaxBody}
}

// headerHook returns bodyLimit, extended to the limits of Config.Protocols
// if there are any (a server without them runs bodyLimit alone).
func (s *Server) headerHook() func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
	if len(s.cfg.Protocols) == 0 {
		return bodyLimit
	}
	return func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		rc := bodyLimit(h)
		if rc.MaxRequestBodySize == unknownTargetMaxBody {
			if p := s.protocol(unsafeString(h.Peek("X-Amz-Target"))); p != nil {
				rc.MaxRequestBodySize = max(p.MaxBody, minBodyLimit)
			}
		}
		return rc
	}
}

// coarseConn moves a deadline only when it changes by a second or more, or
// moves earlier, or is cleared: fasthttp sets three deadlines per request,
// each a runtime timer update (about 0.5 µs per request together), while
// timeouts of a minute need no sub-second precision. A deadline may thus
// fire up to one second before the time asked for, never after it. A
// coarseConn's deadlines are set by the goroutine serving it only.
//
// A coarseConn is also the tracker's record of the connection (conn.go):
// its stamp is written by the serving goroutine and read by the tracker;
// closed and the tracker's maps are how it is counted.
type coarseConn struct {
	net.Conn
	rd, wd time.Time // deadlines in effect

	t   *tracker // nil when not tracked
	key netip.Addr
	// stamp is the state (connNew, ...) in its low 2 bits and the
	// tracker's clock at the last change of state above them: one store
	// per change.
	stamp atomic.Int64
	// closed is set once the connection is unregistered.
	closed atomic.Bool
	// lingerOnClose asks Close to drain the unread request before closing
	// (set by the serving goroutine; Shutdown may close from another).
	lingerOnClose atomic.Bool
}

// skip reports whether the deadline in effect (cur) can stay for next.
func skip(cur, next time.Time) bool {
	if cur.IsZero() || next.IsZero() {
		return cur.IsZero() && next.IsZero()
	}
	d := next.Sub(cur)
	return d >= 0 && d < time.Second
}

func (c *coarseConn) SetReadDeadline(t time.Time) error {
	if skip(c.rd, t) {
		return nil
	}
	c.rd = t
	return c.Conn.SetReadDeadline(t)
}

func (c *coarseConn) SetWriteDeadline(t time.Time) error {
	if skip(c.wd, t) {
		return nil
	}
	c.wd = t
	return c.Conn.SetWriteDeadline(t)
}

func (c *coarseConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// tlsListener wraps ln for HTTPS. Only HTTP/1.1 is offered: the KMS JSON
// protocol gains nothing from HTTP/2, and clients fall back to HTTP/1.1.
func tlsListener(ln net.Listener, cfg *tls.Config) net.Listener {
	c := cfg.Clone()
	c.NextProtos = []string{"http/1.1"}
	return tls.NewListener(ln, c)
}

func (s *Server) serveFast(ctx *fasthttp.RequestCtx) {
	cc := trackedConn(ctx.Conn())
	if cc != nil {
		cc.setState(connHandling) // read in full: the read clock stops
	}
	s.serveRequest(ctx)
	if cc != nil {
		// Answered: what is left is writing the response, which a
		// client that does not read can stall (conn.go).
		cc.setState(connWriting)
	}
}

func (s *Server) serveRequest(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	target := h.Peek("X-Amz-Target")
	// A POST of a JSON body is a KMS JSON request even without a target
	// (it gets the JSON error); anything else without one is not.
	if s.protocol(unsafeString(target)) != nil {
		s.slowHandler(ctx) // another JSON API: ServeHTTP hands it over
		return
	}
	if len(target) == 0 && !(h.IsPost() && awsjson.IsJSONContentType(unsafeString(h.ContentType()))) {
		if !adaptableURI(h.RequestURI()) {
			// fasthttpadaptor would answer a plain-text 500.
			writeFastError(ctx, awserr.New(awserr.Serialization, "The request could not be parsed."))
			return
		}
		s.slowHandler(ctx) // not the KMS JSON API: ServeHTTP
		return
	}
	reqID := newRequestID()
	ctx.Response.Header.Set("X-Amzn-Requestid", reqID)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "requestId", reqID, "panic", p, "stack", string(debug.Stack()))
			writeFastError(ctx, awserr.Internal())
		}
	}()
	if !h.IsPost() {
		writeFastError(ctx, awserr.New(awserr.UnknownOperation, "Requests must be POST with an X-Amz-Target header."))
		return
	}
	c := s.newCall(reqID, string(target))
	c.req = pipeline.Request{
		Ctx:       s.baseCtx,
		Sig:       fastRequest{&ctx.Request},
		Raw:       ctx.PostBody(),
		HasRaw:    true,
		RemoteIP:  remoteIP(ctx),
		TLS:       ctx.IsTLS(),
		Host:      string(h.Host()),
		UserAgent: string(h.UserAgent()),
	}
	s.serve(c)
	if c.Err != nil {
		writeFastError(ctx, c.Err)
		return
	}
	buf := awsjson.GetBuffer()
	defer awsjson.PutBuffer(buf)
	if err := awsjson.EncodeResponse(buf, c.Out); err != nil {
		s.log.Error("encode response", "requestId", reqID, "err", err)
		writeFastError(ctx, awserr.Internal())
		return
	}
	ctx.Response.Header.SetContentType(awsjson.ContentType)
	ctx.Response.SetBody(buf.Bytes())
}

// adaptableURI reports whether the net/http adapter can turn a request
// with this request target into an http.Request (url.ParseRequestURI). A
// path without escapes, the usual case, needs no parsing.
func adaptableURI(u []byte) bool {
	if len(u) > 0 && u[0] == '/' && bytes.IndexByte(u, '%') < 0 {
		return true
	}
	_, err := url.ParseRequestURI(string(u))
	return err == nil
}

// tooLarge answers a request whose body is over its operation's limit, as
// a request that failed before authentication: its body was never read.
func (s *Server) tooLarge(ctx *fasthttp.RequestCtx, reqID string) {
	h := &ctx.Request.Header
	target := string(h.Peek("X-Amz-Target"))
	c := s.newCall(reqID, target)
	c.req = pipeline.Request{
		Ctx:       s.baseCtx,
		Sig:       fastRequest{&ctx.Request},
		RemoteIP:  remoteIP(ctx),
		TLS:       ctx.IsTLS(),
		Host:      string(h.Host()),
		UserAgent: string(h.UserAgent()),
	}
	in := &c.req
	if len(h.Host()) == 0 && target == "" {
		// fasthttp resets a request whose chunked body went over the
		// limit: which operation it named is lost.
		s.pipe.Reject(c, in, awserr.New(awserr.RequestEntityTooLarge, "Request body exceeds the limit of its operation."))
		writeFastError(ctx, c.Err)
		return
	}
	if p := s.protocol(target); p != nil {
		if j, ok := p.Handler.(jsonAPI); ok {
			writeFastError(ctx, j.TooLarge(in, reqID))
			return
		}
	}
	if q, ok := s.cfg.Extra.(queryAPI); ok && target == "" {
		// The IAM and STS query APIs: the body naming the action is
		// unread; the signature's scope names the service.
		status, body := q.TooLarge(in, reqID)
		ctx.Response.Header.SetContentType("text/xml")
		ctx.SetStatusCode(status)
		ctx.Response.SetBody(body)
		return
	}
	e := s.tooLargeError(c)
	s.pipe.Reject(c, in, e)
	writeFastError(ctx, c.Err)
}

// jsonAPI is the handler of another JSON API (Config.Protocols) as tooLarge
// needs it.
type jsonAPI interface {
	// TooLarge records a request whose body is over the limit, unread, and
	// returns its answer.
	TooLarge(r *pipeline.Request, reqID string) *awserr.Error
}

// queryAPI is the handler of the IAM and STS query APIs (Config.Extra,
// iamapi.Handler) as tooLarge needs it.
type queryAPI interface {
	// TooLarge answers a request whose body is over the limit, unread,
	// with its status and XML body.
	TooLarge(r *pipeline.Request, reqID string) (status int, body []byte)
}

// tooLargeError names the operation of c and returns its answer to a body
// over the operation's limit (UnknownOperationException if there is none).
func (s *Server) tooLargeError(c *call) *awserr.Error {
	var e *awserr.Error
	if c.Name, e = s.resolve(c.target); e != nil {
		return e
	}
	c.op = api.Operations[c.Name]
	return awsjson.ErrTooLarge(c.op.MaxBody)
}

func writeFastError(ctx *fasthttp.RequestCtx, e *awserr.Error) {
	ctx.Response.Header.SetContentType(awsjson.ContentType)
	ctx.Response.Header.Set("X-Amzn-Errortype", e.Code)
	ctx.SetStatusCode(awserr.HTTPStatus(e.Code))
	ctx.Response.SetBody(awsjson.ErrorBody(e))
}

// fastError answers a request fasthttp could not read: a body over its
// operation's limit (bodyLimit), a malformed request, or a read that timed
// out. fasthttp closes the connection afterwards.
func (s *Server) fastError(ctx *fasthttp.RequestCtx, err error) {
	reqID := newRequestID()
	ctx.Response.Header.Set("X-Amzn-Requestid", reqID)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		if cc := trackedConn(ctx.Conn()); cc != nil {
			// The body is unread: drain it while closing, or the client
			// may get a reset instead of this answer.
			cc.lingerOnClose.Store(true)
		}
		s.tooLarge(ctx, reqID)
	default:
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			ctx.SetStatusCode(http.StatusRequestTimeout)
			return
		}
		writeFastError(ctx, awserr.New(awserr.Serialization, "The request could not be parsed."))
	}
}

// ipString is an address and its string form.
type ipString struct {
	ip net.IP
	s  string
}

var lastIP atomic.Pointer[ipString]

func remoteIP(ctx *fasthttp.RequestCtx) string {
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		// Most requests come from a few addresses (a load balancer, the
		// same host): reuse the last one's string.
		if l := lastIP.Load(); l != nil && l.ip.Equal(a.IP) {
			return l.s
		}
		l := &ipString{ip: slices.Clone(a.IP), s: a.IP.String()}
		lastIP.Store(l)
		return l.s
	}
	host, _, err := net.SplitHostPort(ctx.RemoteAddr().String())
	if err != nil {
		return ctx.RemoteAddr().String()
	}
	return host
}

// fastRequest is a fasthttp request as sigv4 reads it. Its strings alias
// the request's buffers, which fasthttp reuses for later requests: they are
// valid only while the request is served, and whatever sigv4 keeps it copies
// (sigv4.Request). Nothing else may hold on to them.
type fastRequest struct{ r *fasthttp.Request }

func (f fastRequest) Method() string { return unsafeString(f.r.Header.Method()) }

func (f fastRequest) uri() (path, query string) {
	u := unsafeString(f.r.Header.RequestURI())
	if u == "" || u[0] != '/' { // absolute form, or "*"
		uri := f.r.URI()
		return unsafeString(uri.PathOriginal()), unsafeString(uri.QueryString())
	}
	path, query, _ = strings.Cut(u, "?")
	return path, query
}

func (f fastRequest) EscapedPath() string { p, _ := f.uri(); return p }
func (f fastRequest) RawQuery() string    { _, q := f.uri(); return q }

func (f fastRequest) Header(name string, i int) (string, bool) {
	h := &f.r.Header
	if strings.EqualFold(name, "content-length") {
		// fasthttp keeps the value as sent; a POST without one signs "0"
		// as net/http reports it.
		if i != 0 {
			return "", false
		}
		if v := h.Peek("Content-Length"); len(v) > 0 {
			return unsafeString(v), true
		}
		if cl := h.ContentLength(); cl >= 0 && !h.IsGet() && !h.IsHead() {
			return strconv.Itoa(cl), true
		}
		return "", false
	}
	vals := h.PeekAll(name)
	if i < len(vals) {
		return unsafeString(vals[i]), true
	}
	return "", false
}

func (f fastRequest) AppendHeaderNames(dst []string) []string {
	for k := range f.r.Header.All() {
		dst = append(dst, unsafeString(k))
	}
	// The fields of a chunked body's trailer section (announced or
	// received) are not in All, but Peek and PeekAll return them like
	// headers, to the router and to the canonical request: they must be
	// signed like headers.
	for _, k := range f.r.Header.PeekTrailerKeys() {
		dst = append(dst, unsafeString(k))
	}
	return dst
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// fastLogger sends fasthttp's own messages (connection errors) to the debug log.
type fastLogger struct{ s *Server }

func (l fastLogger) Printf(format string, args ...any) {
	l.s.log.Debug("http: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
}
