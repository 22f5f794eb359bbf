package peer

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/replica"
)

// junk is what a hostile peer, or anyone on the path to an http://
// endpoint, answers: terminal escapes, a forged log line, a bidirectional
// override.
const junk = "\x1b[2J\x1b[31mreplica applied OK\ntime=2026-01-01 level=INFO msg=\"forged\" \u202egnp.exe"

// TestSendErrorIsTrentChosen: a failed delivery's error (which becomes
// the outbox's last error, the trail's reason and the log's) holds none
// of the bytes the peer answered; the debug log has them printable and
// truncated.
func TestSendErrorIsTrentChosen(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(junk + strings.Repeat("x", 500)))
	}))
	defer srv.Close()
	// A peer whose status line itself is junk (the transport's error
	// quotes it).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 " + junk + "\r\n\r\n"))
			c.Close()
		}
	}()
	var logBuf bytes.Buffer
	c, err := NewClient("us-east-1", "")
	if err != nil {
		t.Fatal(err)
	}
	c.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, tc := range []struct{ endpoint, want string }{
		{srv.URL, "peer eu-west-1 answered HTTP 503"},
		{"http://" + ln.Addr().String(), "peer eu-west-1 unreachable"},
	} {
		_, _, err := c.Send(context.Background(), replica.Peer{Region: "eu-west-1", Endpoint: tc.endpoint}, []byte("{}"), []byte("sig"))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Send to %s: %v, want %q", tc.endpoint, err, tc.want)
		}
	}
	log := logBuf.String()
	if !strings.Contains(log, "replica applied OK") {
		t.Errorf("the debug log lacks the answer: %q", log)
	}
	for _, bad := range []string{"\x1b", "\u202e", "OK\\ntime", strings.Repeat("x", 201)} {
		if strings.Contains(log, bad) {
			t.Errorf("the debug log holds %q: %q", bad, log)
		}
	}
}
