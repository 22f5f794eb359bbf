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

// TestRTNetFailedAuthRecordSize sends unauthenticated requests whose
// recorded fields (operation name, user agent, access key ID, the
// Authorization header that an IncompleteSignatureException message
// quotes, the Host header over TLS) are made of the characters the
// record's JSON encoder escapes six-fold ('<' becomes \u003c, a control
// character \u0001). The fields were cut to their sizes in bytes before
// encoding, so a record grew to 4.8 KB and more, though "such a record is
// under 2 KiB whatever the client sent" (docs/audit.md), which is what
// bounds the trail's growth under a flood from many addresses.
func TestRTNetFailedAuthRecordSize(t *testing.T) {
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
