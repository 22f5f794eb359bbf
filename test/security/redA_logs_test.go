package security

import (
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedADebugLogNoRequestBytes: at --log-level debug, the HTTP server's
// own messages about a request it could not parse must not copy the
// request's bytes into the log: with them come the headers (a session
// token) and, read in the same segment, the body (a plaintext). README:
// "No log line carries a plaintext, key material, a secret access key or
// an encryption context value."
func TestRedADebugLogNoRequestBytes(t *testing.T) {
	s := Start(t, Opts{Args: []string{"--log-format", "json", "--log-level", "debug", "--metrics-listen", "off"}})
	token := "reda-session-token-" + randHex(8)
	plain := "reda-plaintext-" + randHex(8)
	b64 := base64.StdEncoding.EncodeToString([]byte(plain))
	body := `{"KeyId":"alias/x","Plaintext":"` + b64 + `"}`
	host := strings.TrimPrefix(s.Endpoint, "http://")
	for _, bad := range []string{"Bad Header\x01: v\r\n", "X-Odd: a\rb\r\n"} {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// One write: the headers, a header the parser refuses, the body.
		req := "POST / HTTP/1.1\r\nHost: " + host + "\r\nX-Amz-Target: TrentService.Encrypt\r\n" +
			"Content-Type: application/x-amz-json-1.1\r\nX-Amz-Security-Token: " + token + "\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" + bad + "\r\n" + body
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Close()
	}
	time.Sleep(200 * time.Millisecond)
	s.Stop(t)
	for _, l := range strings.Split(s.Output(), "\n") {
		for _, sec := range []string{token, plain, b64} {
			if strings.Contains(l, sec) {
				t.Errorf("the log carries a request's bytes (%s): %s", sec, l)
			}
		}
	}
}
