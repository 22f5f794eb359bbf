package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/trentkms/trent/internal/sigv4"
)

// rawConn is one worker's persistent HTTP/1.1 connection. It writes each
// request and reads its response on the worker's own goroutine, skipping
// net/http's Transport (two goroutines and channel hand-offs per request per
// connection), which roughly halves the client's CPU per request. It redials
// after any error or a "Connection: close" response.
type rawConn struct {
	u      *url.URL
	tlsCfg *tls.Config // nil for http
	signer *sigv4.Signer
	conn   net.Conn
	br     *bufio.Reader
	wbuf   []byte
	reqs   map[string]*http.Request // per operation, reused for signing
}

func newRawConn(u *url.URL, tlsCfg *tls.Config, signer *sigv4.Signer) *rawConn {
	if u.Scheme == "https" {
		c := tlsCfg.Clone()
		c.ServerName = u.Hostname()
		c.NextProtos = []string{"http/1.1"}
		tlsCfg = c
	} else {
		tlsCfg = nil
	}
	return &rawConn{u: u, tlsCfg: tlsCfg, signer: signer, reqs: map[string]*http.Request{}}
}

func (c *rawConn) dial() error {
	host := c.u.Host
	if c.u.Port() == "" {
		if c.tlsCfg != nil {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).Dial("tcp", host)
	if err != nil {
		return err
	}
	if c.tlsCfg != nil {
		tc := tls.Client(conn, c.tlsCfg)
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return err
		}
		conn = tc
	}
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 16<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// do has the contract of client.do.
func (c *rawConn) do(op string, body []byte, buf *bytes.Buffer) (outcome, error) {
	r := c.reqs[op]
	if r == nil {
		var err error
		r, err = http.NewRequestWithContext(context.Background(), http.MethodPost, c.u.String(), nil)
		if err != nil {
			return "", err
		}
		r.Header["Content-Type"] = []string{"application/x-amz-json-1.1"}
		r.Header["X-Amz-Target"] = []string{"TrentService." + op}
		c.reqs[op] = r
	}
	r.ContentLength = int64(len(body))
	c.signer.Sign(r, body, time.Now())

	w := c.wbuf[:0]
	w = append(w, "POST "...)
	w = append(w, r.URL.RequestURI()...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, r.Host...)
	w = append(w, "\r\n"...)
	for k, vs := range r.Header {
		for _, v := range vs {
			w = append(w, k...)
			w = append(w, ": "...)
			w = append(w, v...)
			w = append(w, "\r\n"...)
		}
	}
	w = append(w, "Content-Length: "...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n\r\n"...)
	w = append(w, body...)
	c.wbuf = w

	var resp *http.Response
	for attempt := 0; ; attempt++ {
		reused := c.conn != nil
		if !reused {
			if err := c.dial(); err != nil {
				return "NetworkError", err
			}
		}
		var err error
		if _, err = c.conn.Write(w); err == nil {
			resp, err = http.ReadResponse(c.br, nil)
		}
		if err == nil {
			break
		}
		c.close()
		// A kept-alive connection the server closed while idle fails
		// before any answer; retry once on a fresh one, as net/http does.
		if !reused || attempt > 0 {
			return "NetworkError", err
		}
	}
	buf.Reset()
	_, err := buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.close()
		return "NetworkError", err
	}
	if resp.Close {
		c.close()
	}
	if resp.StatusCode/100 == 2 {
		return "", nil
	}
	return errorName(resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), buf.Bytes()), nil
}
