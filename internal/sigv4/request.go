package sigv4

import (
	"net/http"
	"strconv"
	"strings"
)

// Request is what Verify reads of an HTTP request, so that requests parsed
// by any HTTP server can be verified. Implementations must return the
// request as it was on the wire. The strings may alias buffers the server
// reuses once the request is served: VerifyRequest copies whatever it keeps
// beyond the call (the Result, and the access key ID it looks up).
type Request interface {
	// Method returns the request method.
	Method() string
	// EscapedPath returns the path as sent (still percent-encoded),
	// without the query.
	EscapedPath() string
	// RawQuery returns the query as sent, without '?'.
	RawQuery() string
	// Header returns the i-th value (from 0) of the header name, whose case
	// does not matter, and whether there is one. Host, Content-Length and
	// Transfer-Encoding are headers like any other.
	Header(name string, i int) (string, bool)
	// AppendHeaderNames appends the name of every header the request
	// carries to dst, in any order and case (a name may repeat), and
	// returns the extended slice. Verify uses it to find headers that must
	// be signed but are not, so no header may be left out.
	AppendHeaderNames(dst []string) []string
}

// HTTPRequest adapts a net/http request.
func HTTPRequest(r *http.Request) Request { return httpRequest{r} }

type httpRequest struct{ r *http.Request }

func (h httpRequest) Method() string   { return h.r.Method }
func (h httpRequest) RawQuery() string { return h.r.URL.RawQuery }

func (h httpRequest) EscapedPath() string {
	r := h.r
	if u := r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	if r.URL.Opaque != "" {
		return r.URL.Opaque
	}
	return r.URL.EscapedPath()
}

func (h httpRequest) Header(name string, i int) (string, bool) {
	r := h.r
	var vals []string
	var kb [64]byte
	if len(name) <= len(kb) {
		vals = r.Header[string(canonicalKey(kb[:0], name))]
	} else {
		vals = r.Header.Values(name)
	}
	if len(vals) == 0 {
		// net/http moves these out of the header map.
		switch {
		case strings.EqualFold(name, "host"):
			v := r.Host
			if v == "" {
				v = r.URL.Host
			}
			return v, i == 0
		case strings.EqualFold(name, "content-length"):
			if i == 0 && (r.ContentLength > 0 || (r.ContentLength == 0 && r.Method != http.MethodGet && r.Method != http.MethodHead)) {
				return strconv.FormatInt(r.ContentLength, 10), true
			}
		case strings.EqualFold(name, "transfer-encoding"):
			if i < len(r.TransferEncoding) {
				return r.TransferEncoding[i], true
			}
		}
		return "", false
	}
	if i < len(vals) {
		return vals[i], true
	}
	return "", false
}

func (h httpRequest) AppendHeaderNames(dst []string) []string {
	r := h.r
	for k := range r.Header {
		dst = append(dst, k)
	}
	// net/http moves these out of the header map; none of them has to be
	// signed, but the list is complete.
	if r.Host != "" || r.URL.Host != "" {
		dst = append(dst, "Host")
	}
	if len(r.TransferEncoding) > 0 {
		dst = append(dst, "Transfer-Encoding")
	}
	return dst
}

// first returns the first value of a header, or "".
func first(r Request, name string) string {
	v, _ := r.Header(name, 0)
	return v
}
