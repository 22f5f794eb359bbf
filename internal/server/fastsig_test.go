package server

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/trentkms/trent/internal/sigv4"
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

// BenchmarkVerifyFast verifies an SDK-shaped Encrypt request as fasthttp
// parsed it: the signature check of the KMS hot path.
func BenchmarkVerifyFast(b *testing.B) {
	body := []byte(`{"KeyId":"alias/bench","Plaintext":"` + strings.Repeat("QUFB", 342) + `"}`)
	hr := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/x-amz-json-1.1")
	hr.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	hr.Header.Set("User-Agent", "aws-sdk-go-v2/1.47.7 os/linux lang/go#1.26 md/GOOS#linux api/kms#1.62.4")
	hr.Header.Set("Amz-Sdk-Invocation-Id", "4b3c2a1e-0000-4000-8000-000000000000")
	hr.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	hr.Header.Set("Accept-Encoding", "identity")
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	sigv4.Sign(hr, body, benchAKID, []byte(benchSecret), "", "us-east-1", "kms", now)
	var raw bytes.Buffer
	if err := hr.Write(&raw); err != nil {
		b.Fatal(err)
	}
	r := readFastRequest(b, raw.String())
	v := &sigv4.Verifier{
		Source: sigv4.StaticCredentials{benchAKID: {Key: []byte(benchSecret)}},
		Region: "us-east-1", Now: func() time.Time { return now },
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyRequest(ctx, fastRequest{r}, r.Body()); err != nil {
			b.Fatal(err)
		}
	}
}
