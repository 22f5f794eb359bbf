package node

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/sigv4"
)

// TestAuditSyslog checks that with audit.syslog set, each durable audit
// event also reaches a syslog receiver (here a UDP socket on loopback).
func TestAuditSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir()}
	cfg.Audit.Syslog = "udp://" + pc.LocalAddr().String()
	n, err := Start(cfg, Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())

	body := []byte(`{}`)
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	sigv4.Sign(r, body, benchAKID, []byte(benchSecret), "", "us-east-1", "kms", time.Now())
	w := httptest.NewRecorder()
	n.Server.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("ListKeys: %d %s", w.Code, w.Body.String())
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65536)
	k, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no syslog message: %v", err)
	}
	if msg := string(buf[:k]); !strings.Contains(msg, `"eventName":"ListKeys"`) || !strings.Contains(msg, "trent-audit") {
		t.Fatalf("syslog message %q lacks the event", msg)
	}
}

// TestAuditSyslogBadURL checks that a malformed syslog setting stops start-up.
func TestAuditSyslogBadURL(t *testing.T) {
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir()}
	cfg.Audit.Syslog = "smtp://x"
	if n, err := Start(cfg, Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}}); err == nil {
		n.Shutdown(context.Background())
		t.Fatal("Start accepted audit.syslog smtp://x")
	}
}
