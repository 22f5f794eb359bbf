package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/awsjson"
)

// The KMS JSON API is served by fasthttp, which parses a request and writes
// its response with a fraction of net/http's allocations and CPU (measured
// in docs/performance.md). Every other request (the IAM and STS query APIs,
// health checks) goes through ServeHTTP, the same net/http handler tests
// drive directly.

// maxWireBody bounds what the HTTP server reads of any request body; each
// operation then applies its own, smaller limit (api.Operation.MaxBody).
const maxWireBody = 2 << 20

func (s *Server) newFastServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               s.serveFast,
		ErrorHandler:          s.fastError,
		NoDefaultServerHeader: true,
		// One value for reading a request, waiting for the next one
		// and writing a response: fasthttp then asks for the same
		// deadline (now + 60 s) three times per request, which
		// coarseConn turns into about one real update per second.
		ReadTimeout:  connTimeout,
		WriteTimeout: connTimeout,
		IdleTimeout:  connTimeout,
		// The read buffer bounds the request line and headers.
		ReadBufferSize:     16 << 10,
		MaxRequestBodySize: maxWireBody,
		Logger:             fastLogger{s},
		CloseOnShutdown:    true,
	}
}

// connTimeout bounds reading a request (headers and body), writing a
// response, and a kept-alive connection's wait for its next request.
const connTimeout = 60 * time.Second

// coarseListener hands out coarseConns.
type coarseListener struct{ net.Listener }

func (l coarseListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &coarseConn{Conn: c}, nil
}

// coarseConn moves a deadline only when it changes by a second or more, or
// moves earlier, or is cleared: fasthttp sets three deadlines per request,
// each a runtime timer update (about 0.5 µs per request together), while
// timeouts of a minute need no sub-second precision. A deadline may thus
// fire up to one second before the time asked for, never after it. A
// coarseConn's deadlines are set by the goroutine serving it only.
type coarseConn struct {
	net.Conn
	rd, wd time.Time // deadlines in effect
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
	h := &ctx.Request.Header
	target := h.Peek("X-Amz-Target")
	// A POST of a JSON body is a KMS JSON request even without a target
	// (it gets the JSON error); anything else without one is not.
	if len(target) == 0 && !(h.IsPost() && awsjson.IsJSONContentType(unsafeString(h.ContentType()))) {
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
	in := &inbound{
		ctx:       s.baseCtx,
		sig:       fastRequest{&ctx.Request},
		raw:       ctx.PostBody(),
		hasRaw:    true,
		remoteIP:  remoteIP(ctx),
		tls:       ctx.IsTLS(),
		host:      string(h.Host()),
		userAgent: string(h.UserAgent()),
	}
	c := s.serveKMS(in, reqID, string(target))
	if c.err != nil {
		writeFastError(ctx, c.err)
		return
	}
	buf := awsjson.GetBuffer()
	defer awsjson.PutBuffer(buf)
	if err := awsjson.EncodeResponse(buf, c.out); err != nil {
		s.log.Error("encode response", "requestId", reqID, "err", err)
		writeFastError(ctx, awserr.Internal())
		return
	}
	ctx.Response.Header.SetContentType(awsjson.ContentType)
	ctx.Response.SetBody(buf.Bytes())
}

func writeFastError(ctx *fasthttp.RequestCtx, e *awserr.Error) {
	ctx.Response.Header.SetContentType(awsjson.ContentType)
	ctx.Response.Header.Set("X-Amzn-Errortype", e.Code)
	ctx.SetStatusCode(awserr.HTTPStatus(e.Code))
	ctx.Response.SetBody(awsjson.ErrorBody(e))
}

// fastError answers a request fasthttp could not parse.
func (s *Server) fastError(ctx *fasthttp.RequestCtx, err error) {
	ctx.Response.Header.Set("X-Amzn-Requestid", newRequestID())
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeFastError(ctx, awsjson.ErrTooLarge(maxWireBody))
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
	return dst
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// fastLogger sends fasthttp's own messages (connection errors) to the debug log.
type fastLogger struct{ s *Server }

func (l fastLogger) Printf(format string, args ...any) {
	l.s.log.Debug("http: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
}
