package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/console"
	"github.com/trentkms/trent/internal/sigv4"
	"github.com/trentkms/trent/internal/trailapi"
)

func consoleGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// signedPost sends a signed JSON 1.1 request to endpoint and returns the
// status and body.
func signedPost(t *testing.T, endpoint, service, target, body string) (int, string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", target)
	sigv4.Sign(r, []byte(body), benchAKID, []byte(benchSecret), "", "us-east-1", service, time.Now())
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The console is served on the API listener by default, beside the APIs
// it calls; --console off removes it; --console-listen moves it (and the
// APIs it calls) to a listener of its own.
func TestConsoleListeners(t *testing.T) {
	start := func(t *testing.T, c config.ConsoleFile) *Node {
		cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Console: c}
		cfg.Metrics.Listen = config.MetricsOff
		n, err := Start(cfg, Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Shutdown(context.Background()) })
		return n
	}
	t.Run("ok/default", func(t *testing.T) {
		n := start(t, config.ConsoleFile{})
		if n.ConsoleEndpoint != n.Endpoint+console.Prefix {
			t.Errorf("ConsoleEndpoint %q", n.ConsoleEndpoint)
		}
		res, body := consoleGet(t, n.ConsoleEndpoint)
		if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") != console.CSP || !strings.Contains(body, "app.js") {
			t.Fatalf("GET /console/: %d %v", res.StatusCode, res.Header)
		}
		// The APIs are where they were.
		if code, body := signedPost(t, n.Endpoint, "kms", "TrentService.ListKeys", "{}"); code != 200 {
			t.Errorf("ListKeys: %d %s", code, body)
		}
		// A GET of another path is still the query API's.
		if res, _ := consoleGet(t, n.Endpoint+"/"); res.Header.Get("Content-Security-Policy") != "" {
			t.Error("GET / answered by the console")
		}
	})
	t.Run("ok/off", func(t *testing.T) {
		n := start(t, config.ConsoleFile{Serve: config.ConsoleOff})
		if n.ConsoleEndpoint != "" {
			t.Errorf("ConsoleEndpoint %q", n.ConsoleEndpoint)
		}
		if res, body := consoleGet(t, n.Endpoint+console.Prefix); res.StatusCode == 200 || strings.Contains(body, "app.js") {
			t.Errorf("console off, GET /console/: %d %s", res.StatusCode, body)
		}
	})
	t.Run("ok/own-listener", func(t *testing.T) {
		n := start(t, config.ConsoleFile{Listen: "127.0.0.1:0"})
		if !strings.HasSuffix(n.ConsoleEndpoint, console.Prefix) || strings.HasPrefix(n.ConsoleEndpoint, n.Endpoint+"/") {
			t.Fatalf("ConsoleEndpoint %q, API %q", n.ConsoleEndpoint, n.Endpoint)
		}
		if res, _ := consoleGet(t, n.ConsoleEndpoint); res.StatusCode != 200 {
			t.Errorf("console listener: %d", res.StatusCode)
		}
		if res, body := consoleGet(t, n.Endpoint+console.Prefix); res.StatusCode == 200 || strings.Contains(body, "app.js") {
			t.Errorf("API listener still serves the console: %d", res.StatusCode)
		}
		// The console's origin serves the APIs it calls.
		origin := strings.TrimSuffix(n.ConsoleEndpoint, console.Prefix)
		if code, body := signedPost(t, origin, "kms", "TrentService.ListKeys", "{}"); code != 200 {
			t.Errorf("ListKeys on the console's listener: %d %s", code, body)
		}
	})
	t.Run("fail/same-address", func(t *testing.T) {
		cfg := &config.File{Listen: "127.0.0.1:4599", DataDir: t.TempDir(), Console: config.ConsoleFile{Listen: "127.0.0.1:4599"}}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "console listen address") {
			t.Errorf("Validate: %v", err)
		}
	})
	t.Run("fail/mode", func(t *testing.T) {
		cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Console: config.ConsoleFile{Serve: "maybe"}}
		if err := cfg.Validate(); err == nil {
			t.Error("Validate accepted console: maybe")
		}
	})
}

// GetTrailVerification reports the digests' state, needs
// cloudtrail:LookupEvents like a lookup, and is recorded.
func TestTrailVerification(t *testing.T) {
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir()}
	cfg.Metrics.Listen = config.MetricsOff
	n, err := Start(cfg, Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	target := trailapi.TargetPrefix + "." + trailapi.VerificationOperation
	var v trailapi.Verification
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := signedPost(t, n.Endpoint, "cloudtrail", target, "{}")
		if code != 200 {
			t.Fatalf("GetTrailVerification: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		if v.Status != trailapi.VerificationChecking {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still checking: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v.Status != trailapi.VerificationVerified || v.CheckedAt == nil || len(v.SigningKeyIDs) == 0 {
		t.Errorf("verification %+v", v)
	}
	// Signed for another service, it is refused like any CloudTrail call.
	if code, _ := signedPost(t, n.Endpoint, "kms", target, "{}"); code == 200 {
		t.Error("GetTrailVerification signed for kms was served")
	}
	if code, body := signedPost(t, n.Endpoint, "kms", "TrentService.ListKeys", "{}"); code != 200 {
		t.Fatalf("ListKeys: %d %s", code, body)
	}
	n.Shutdown(context.Background())

	// A record changed in the trail: the state is Failed, naming the kind
	// of damage and nothing else.
	segs, _ := filepath.Glob(filepath.Join(cfg.Audit.Dir, "trail-*.jsonl"))
	if len(segs) == 0 {
		t.Fatal("no trail segment")
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(data, []byte(`"ListKeys"`), []byte(`"ListKeyz"`), 1)
	if bytes.Equal(tampered, data) {
		t.Fatal("no ListKeys record to change")
	}
	if err := os.WriteFile(segs[0], tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	tv := &trailVerifier{dir: cfg.Audit.Dir, node: AuditNode(cfg), log: slog.New(slog.DiscardHandler)}
	tv.State(context.Background())
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, _ := tv.State(context.Background())
		if st.Status != trailapi.VerificationChecking {
			if st.Status != trailapi.VerificationFailed || len(st.Problems) == 0 || !strings.Contains(st.Problems[0], "modified") {
				t.Errorf("tampered trail: %+v", st)
			}
			for _, p := range st.Problems {
				if strings.Contains(p, ".jsonl") || strings.Contains(p, cfg.DataDir) {
					t.Errorf("problem %q names a file", p)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("verification did not finish")
		}
	}
}
