package security

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rtnetChunked sends req (whose body is body) as a chunked request with
// the given trailer section (header lines without the final CRLF) and, if
// announce, a Trailer header naming its fields, and returns the answer.
func rtnetChunked(t *testing.T, s *Server, req *http.Request, body []byte, trailer []string, announce bool) Response {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n", req.Host)
	for name, vals := range req.Header {
		for _, v := range vals {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	if announce {
		var names []string
		for _, l := range trailer {
			name, _, _ := strings.Cut(l, ":")
			names = append(names, name)
		}
		fmt.Fprintf(&b, "Trailer: %s\r\n", strings.Join(names, ", "))
	}
	fmt.Fprintf(&b, "\r\n%x\r\n%s\r\n0\r\n", len(body), body)
	for _, l := range trailer {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	c, err := connDialer("127.0.0.1").Dial("tcp", s.connHost())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if resp.StatusCode != http.StatusOK && json.Unmarshal(data, &e) == nil {
		out.ErrorType, out.Message = e.Type, e.Message
	}
	return out
}

// TestTrailerHeaders replays a request signed over host and
// x-amz-date only (the captured request of TestSignatureScopeSwap) with
// X-Amz-Target sent in the trailer section of a chunked body, announced
// or not. fasthttp keeps trailer fields apart from the header section:
// the router and the canonical request (Peek, PeekAll) see them, the
// check that every X-Amz-* header is signed (All) did not, so the replay
// disabled the key. The same goes for X-Amz-Security-Token.
func TestTrailerHeaders(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	id := s.CreateKey(t, Admin, nil)
	body := []byte(`{"KeyId":"` + id + `"}`)
	for _, announce := range []bool{true, false} {
		for _, tc := range []struct{ name, trailer, header string }{
			{"target", "X-Amz-Target: TrentService.DisableKey", "X-Amz-Target"},
			{"session token", "X-Amz-Security-Token: FwoGZXIvYXdzEXAMPLE", "X-Amz-Security-Token"},
		} {
			req := s.NewKMSRequest(t, "DescribeKey", body)
			req.Header.Del("X-Amz-Target")
			req.Header.Del("Content-Type")
			req.ContentLength = -1 // sent chunked: Content-Length is not signed
			Sign(t, req, body, Admin, "kms")
			if a := req.Header.Get("Authorization"); !strings.Contains(a, "SignedHeaders=host;x-amz-date,") {
				t.Fatalf("the replayed signature covers more than host and date: %s", a)
			}
			trailer := []string{tc.trailer}
			if tc.header != "X-Amz-Target" {
				trailer = append(trailer, "X-Amz-Target: TrentService.DisableKey")
			}
			r := rtnetChunked(t, s, req, body, trailer, announce)
			what := fmt.Sprintf("%s in the trailer (announced %v)", tc.name, announce)
			if r.Status == http.StatusOK {
				t.Errorf("%s: served", what)
				continue
			}
			if r.ErrorType != "InvalidSignatureException" || !strings.Contains(r.Message, "must be a 'SignedHeader'") {
				t.Errorf("%s: %d %s %q, want InvalidSignatureException naming an unsigned header", what, r.Status, r.ErrorType, r.Message)
			}
		}
	}
	if st := sigKeyState(t, s, id); st != "Enabled" {
		t.Fatalf("key state after the replays: %s, want Enabled", st)
	}
	// A chunked request whose trailer carries nothing of the signature's
	// is served.
	req := s.NewKMSRequest(t, "DescribeKey", body)
	req.ContentLength = -1
	Sign(t, req, body, Admin, "kms")
	if r := rtnetChunked(t, s, req, body, []string{"X-Checksum: 1"}, true); r.Status != http.StatusOK {
		t.Fatalf("signed chunked DescribeKey with an unrelated trailer: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
}

// TestMalformedRequestURI sends requests whose target the net/http
// adapter of the IAM/STS path cannot parse (a bad percent escape, the
// authority form of CONNECT): they got a plain-text "500 Internal Server
// Error" from fasthttpadaptor. A client's malformed request is a 400.
func TestMalformedRequestURI(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	for _, line := range []string{"GET /%zz HTTP/1.1", "POST /a% HTTP/1.1", "CONNECT 127.0.0.1:1 HTTP/1.1", "GET /healthz%G0 HTTP/1.1"} {
		c, err := connDialer("127.0.0.96").Dial("tcp", s.connHost())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "%s\r\nHost: %s\r\nContent-Length: 0\r\n\r\n", line, s.connHost())
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", line, resp.Status)
		}
	}
	if r := Do(t, mustRequest(t, http.MethodGet, s.Endpoint+"/healthz")); r.Status != http.StatusOK {
		t.Fatalf("/healthz: %d", r.Status)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
