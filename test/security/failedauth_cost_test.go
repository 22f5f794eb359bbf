package security

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rtnetRawTLS sends one raw request over TLS from ip and reads the answer's
// status line.
func rtnetRawTLS(t *testing.T, s *Server, ip string, raw string) string {
	t.Helper()
	c, err := tls.DialWithDialer(connDialer(ip), "tcp", s.connHost(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp.Status
}

// rtnetTrailLines returns every line of the server's trail segments.
func rtnetTrailLines(t *testing.T, s *Server) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.DataDir, "audit", "trail-*.jsonl"))
	var lines [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimRight(b, "\x00\n"), []byte("\n")) {
			if len(l) > 0 {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// TestFailedAuthRecordSize sends unauthenticated requests whose
// recorded fields (operation name, user agent, access key ID, the
// Authorization header that an IncompleteSignatureException message
// quotes, the Host header over TLS) are made of the characters the
// record's JSON encoder escapes six-fold ('<' becomes \u003c, a control
// character \u0001). The fields were cut to their sizes in bytes before
// encoding, so a record grew to 4.8 KB and more, though "such a record is
// under 2 KiB whatever the client sent" (docs/audit.md), which is what
// bounds the trail's growth under a flood from many addresses.
func TestFailedAuthRecordSize(t *testing.T) {
	t.Parallel()
	cert, key := connSelfSigned(t)
	cfg := connWriteConfig(t, "limits:\n  failed_auth_interval: 1s\n")
	s := Start(t, Opts{Args: []string{"--config", cfg, "--tls-cert", cert, "--tls-key", key}})
	junk := func(c string, n int) string { return strings.Repeat(c, n) }
	for i, esc := range []string{"<", "&", "\u2028", "\""} {
		ip := fmt.Sprintf("127.0.0.%d", 90+i)
		auth := "AWS4-HMAC-SHA256 Credential=" + junk(esc, 130) + "/20260101/us-east-1/kms/aws4_request, SignedHeaders=" +
			junk(esc, 300) + ", Signature=" + junk(esc, 300)
		for j := 0; j < 3; j++ { // the first of the interval, then two aggregated
			raw := "POST / HTTP/1.1\r\nHost: " + junk(esc, 300) + "\r\nContent-Type: application/x-amz-json-1.1\r\n" +
				"X-Amz-Target: TrentService." + junk(esc, 200) + "\r\nUser-Agent: " + junk(esc, 300) + "\r\n" +
				"Authorization: " + auth + "\r\nContent-Length: 2\r\n\r\n{}"
			if j == 2 {
				// A known operation: the Authorization header is
				// quoted in the error message.
				raw = strings.Replace(raw, "TrentService."+junk(esc, 200), "TrentService.ListKeys", 1)
			}
			if st := rtnetRawTLS(t, s, ip, raw); !strings.HasPrefix(st, "400") {
				t.Fatalf("%q: %s", esc, st)
			}
		}
	}
	s.Stop(t) // writes the aggregated records
	var failures, biggest int
	for _, l := range rtnetTrailLines(t, s) {
		if !bytes.Contains(l, []byte(`"errorCode"`)) {
			continue
		}
		failures++
		// The record is the event; the line adds the chain (seq, prev,
		// hash).
		i := bytes.Index(l, []byte(`"event":`))
		ev := l[i+len(`"event":`) : len(l)-1]
		biggest = max(biggest, len(ev))
		if len(ev) > 2048 {
			t.Errorf("a failed request's record of %d bytes: %.300s…", len(ev), ev)
		}
	}
	t.Logf("%d failure records, the biggest %d bytes", failures, biggest)
	if failures < 8 {
		t.Fatalf("%d failure records, want two per source (one, and one aggregated)", failures)
	}
}

// rtnetCPU is the CPU time (user and system) the process pid has used.
func rtnetCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 14th and 15th fields of the line.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	var ticks int64
	for _, s := range f[11:13] {
		var n int64
		fmt.Sscan(s, &n)
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}

// TestQueryFormCost sends unsigned (or badly signed) IAM/STS query
// requests whose 64 KiB
// body (the query API's limit) holds 8,000 parameters. The handler parsed
// the whole form into maps (two of them, query and body, then merged)
// before looking at the source's failure budget or the caller: 3-4 ms of
// CPU per request, so four connections without credentials raised a
// signed client's p99 from about 1.5 ms to 31 ms (2 cores). A request that
// fails before authentication must cost about what reading it costs.
func TestQueryFormCost(t *testing.T) {
	s := Start(t, Opts{})
	var b strings.Builder
	b.WriteString("Action=GetCallerIdentity&Version=2011-06-15")
	for i := 0; b.Len() < 64<<10-8; i++ {
		fmt.Fprintf(&b, "&p%d=", i)
	}
	form := b.String()
	hc := failedHTTP("127.0.0.95")
	i := 0
	send := func() Response {
		req, _ := http.NewRequest(http.MethodPost, s.Endpoint+"/", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		if i++; i%2 == 0 {
			// Naming an access key in use gets a throttled source's
			// request verified all the same.
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+Admin.AKID+
				"/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
		}
		return failedDo(t, hc, req)
	}
	send() // connection set up
	const n = 300
	before := rtnetCPU(t, s.PID())
	start := time.Now()
	codes := map[string]int{}
	for range n {
		r := send()
		code := "?"
		if i := bytes.Index(r.Body, []byte("<Code>")); i >= 0 {
			code = string(r.Body[i+6 : i+6+bytes.IndexByte(r.Body[i+6:], '<')])
		}
		codes[fmt.Sprintf("%d %s", r.Status, code)]++
	}
	cpu := rtnetCPU(t, s.PID()) - before
	per := cpu / n
	t.Logf("%d unsigned 64 KiB forms of 8,000 parameters in %v: %v of server CPU, %v each; answers %v",
		n, time.Since(start).Round(time.Millisecond), cpu, per, codes)
	for c := range codes {
		if !strings.HasPrefix(c, "400 ") && !strings.HasPrefix(c, "403 ") {
			t.Errorf("answer %q", c)
		}
	}
	if per > 500*time.Microsecond {
		t.Errorf("each unauthenticated query request cost %v of server CPU, want well under a millisecond", per)
	}
}
