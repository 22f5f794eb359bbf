package server

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func readFastRequest(t testing.TB, raw string) *fasthttp.Request {
	t.Helper()
	var r fasthttp.Request
	if err := r.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestFastRequestHeaderNames checks that sigv4 sees every header fasthttp
// parsed, special ones included, so that an unsigned X-Amz-* or
// Content-Type header cannot hide, and that listing them does not allocate.
func TestFastRequestHeaderNames(t *testing.T) {
	r := readFastRequest(t, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"+
		"x-amz-target: TrentService.Encrypt\r\nX-AMZ-DATE: 20261123T103000Z\r\nUser-Agent: ua\r\n"+
		"X-Amz-Security-Token: tok\r\nCookie: a=b\r\nContent-Length: 2\r\n\r\n{}")
	f := fastRequest{r}
	names := f.AppendHeaderNames(nil)
	for _, want := range []string{"Host", "Content-Type", "X-Amz-Target", "X-Amz-Date", "X-Amz-Security-Token", "User-Agent"} {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, want) }) {
			t.Errorf("header %s not listed: %q", want, names)
		}
	}
	buf := make([]string, 0, 32)
	if n := testing.AllocsPerRun(100, func() { buf = f.AppendHeaderNames(buf[:0]) }); n != 0 {
		t.Errorf("AppendHeaderNames allocates %v times", n)
	}
}
