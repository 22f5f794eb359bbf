package security

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestRedAMetricsConnectionsSpareTheAPI: the metrics listener is a second
// way in that no credential guards (operators bind it beyond loopback for
// their Prometheus). Connections to it must not take the file descriptors
// that the API's connection limit keeps in reserve for the store and the
// audit trail: a client holding many of them open must leave the API
// serving, its calls recorded.
func TestRedAMetricsConnectionsSpareTheAPI(t *testing.T) {
	addr := obsFreePort(t)
	s := Start(t, Opts{NoFile: 320, Args: []string{"--metrics-listen", addr}})
	keyID := s.CreateKey(t, Admin, nil)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 400; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break
		}
		held = append(held, c)
	}
	time.Sleep(300 * time.Millisecond) // the server accepts what it will
	t.Logf("%d connections held", len(held))
	var fails []string
	for i := 0; i < 5; i++ {
		body := fmt.Sprintf(`{"KeyId":%q,"Plaintext":%q}`, keyID, base64.StdEncoding.EncodeToString([]byte("x")))
		req := s.NewKMSRequest(t, "Encrypt", []byte(body))
		Sign(t, req, []byte(body), Admin, "kms")
		req.Close = true // a new connection each time
		resp, err := DoErr(req)
		switch {
		case err != nil:
			fails = append(fails, err.Error())
		case resp.Status != http.StatusOK:
			fails = append(fails, fmt.Sprintf("%d %s %s", resp.Status, resp.ErrorType, resp.Message))
		}
	}
	if len(fails) > 0 {
		t.Fatalf("with %d connections held open to the metrics listener, the API failed: %v\n%s", len(held), fails, tail(s.Output(), 3000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
