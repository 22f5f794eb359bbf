package node

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/config"
)

// TestMetricsListener: the metrics are served on their own listener; a
// configured address that cannot be bound stops the start, the default
// one taken by another process does not.
func TestMetricsListener(t *testing.T) {
	env := config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Metrics: config.MetricsFile{Listen: "127.0.0.1:0"}}
	n, err := Start(cfg, Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	if n.MetricsEndpoint == "" || strings.Contains(n.MetricsEndpoint, n.Listener.Addr().String()) {
		t.Fatalf("metrics endpoint %q (API %s)", n.MetricsEndpoint, n.Listener.Addr())
	}
	resp, err := http.Get(n.MetricsEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`trent_requests_total{api="kms",code="",operation="Encrypt",outcome="success"} 0`,
		`trent_requests_total{api="query",code="",operation="CreateUser",outcome="success"} 0`,
		`trent_key_cache_hits_total{cache="key"}`, "trent_audit_digest_age_seconds", "trent_connections_open"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg2 := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Metrics: config.MetricsFile{Listen: taken.Addr().String()}}
	if n2, err := Start(cfg2, Options{Env: env}); err == nil {
		n2.Shutdown(context.Background())
		t.Fatal("started with its configured metrics address taken")
	} else if !strings.Contains(err.Error(), "metrics listener") {
		t.Fatalf("err %v", err)
	}
}

// TestMetricsDefaultTaken: the default metrics address held by another
// process is logged and skipped.
func TestMetricsDefaultTaken(t *testing.T) {
	ln, err := net.Listen("tcp", config.DefaultMetricsListen)
	if err != nil {
		t.Skipf("the default metrics address is in use here already: %v", err)
	}
	defer ln.Close()
	logged := &lockedLog{}
	log := slog.New(slog.NewTextHandler(logged, nil))
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir()}
	n, err := Start(cfg, Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	if n.MetricsEndpoint != "" || !strings.Contains(logged.String(), "metrics not served") {
		t.Fatalf("endpoint %q; log:\n%s", n.MetricsEndpoint, logged.String())
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
