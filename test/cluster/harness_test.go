package cluster

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trentkms/trent/test/internal/trentproc"
)

const (
	urlEnv    = "TRENT_TEST_POSTGRES_URL"
	region    = "us-east-1"
	adminAKID = "AKIACLUSTERADMIN0001"
)

var adminSecret = "cluster-" + randHex(20)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// trentBinary builds trent once per test binary, with the test hooks the
// nodes are started with (TRENT_TEST_CLOCK_FILE, TRENT_TEST_SCHEDULER_INTERVAL).
func trentBinary(t testing.TB) string {
	t.Helper()
	return trentproc.Build(t, "trenttest")
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// node is one trent serve child process.
type node struct {
	id, addr, dir string
	env           []string
	bin, store    string

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

// cluster is the nodes plus what they share.
type cluster struct {
	t       testing.TB
	nodes   []*node
	store   string
	rootKey string
	clock   string // TRENT_TEST_CLOCK_FILE
}

func newCluster(t testing.TB, n int, storeURL string) *cluster {
	t.Helper()
	bin := trentBinary(t)
	base := t.TempDir()
	c := &cluster{t: t, store: storeURL, rootKey: randHex(32), clock: filepath.Join(base, "clock")}
	if err := os.WriteFile(c.clock, []byte("0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		nd := &node{id: id, addr: freePort(t), dir: filepath.Join(base, id), bin: bin, store: storeURL}
		nd.env = append(os.Environ(),
			"TRENT_ACCESS_KEY_ID="+adminAKID, "TRENT_SECRET_ACCESS_KEY="+adminSecret,
			"TRENT_ROOT_KEY="+c.rootKey,
			"TRENT_TEST_SCHEDULER_INTERVAL=200ms", "TRENT_TEST_CLOCK_FILE="+c.clock)
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.kill()
		}
	})
	return c
}

// setClockOffset moves every node's domain clock ahead of the wall clock.
func (c *cluster) setClockOffset(d time.Duration) {
	if err := os.WriteFile(c.clock+".tmp", []byte(d.String()+"\n"), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(c.clock+".tmp", c.clock); err != nil {
		c.t.Fatal(err)
	}
}

func (nd *node) endpoint() string { return "http://" + nd.addr }

// start launches the process; it does not wait for readiness.
func (nd *node) start(t testing.TB) {
	t.Helper()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if err := os.MkdirAll(nd.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(nd.dir, "stderr.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nd.bin, "serve", "--listen", nd.addr, "--data-dir", nd.dir, "--store", nd.store, "--node-id", nd.id)
	cmd.Env = nd.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd.cmd, nd.log = cmd, f
}

// kill sends SIGKILL and reaps the process.
func (nd *node) kill() {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Kill()
	nd.cmd.Wait()
	nd.log.Close()
	nd.cmd = nil
}

// stop sends SIGTERM and waits for a graceful exit.
func (nd *node) stop(t testing.TB) {
	t.Helper()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- nd.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("node %s exited: %v", nd.id, err)
		}
	case <-time.After(40 * time.Second):
		nd.cmd.Process.Kill()
		<-done
		t.Errorf("node %s did not stop within 40s", nd.id)
	}
	nd.log.Close()
	nd.cmd = nil
}

// readyz returns the /readyz status code (0 if unreachable).
func (nd *node) readyz() int {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(nd.endpoint() + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (nd *node) waitReady(t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for nd.readyz() != http.StatusOK {
		if time.Now().After(deadline) {
			logTail, _ := os.ReadFile(filepath.Join(nd.dir, "stderr.log"))
			t.Fatalf("node %s not ready within %v; log:\n%s", nd.id, limit, tail(string(logTail), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// client returns an SDK client for the node: no retries, so that every
// answer the server gave is seen, and a per-attempt timeout that turns a
// hang into a visible error.
func (nd *node) client() *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(nd.endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient:   awshttp.NewBuildableClient().WithTimeout(15 * time.Second),
		Retryer:      aws.NopRetryer{},
	})
}

// errCode is the AWS error code of err ("" for nil, "transport" for errors
// without an API answer, such as a refused connection).
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "transport"
}

// auditEvent is the part of an audit record the tests read.
type auditEvent struct {
	EventName           string         `json:"eventName"`
	EventType           string         `json:"eventType"`
	ServiceEventDetails map[string]any `json:"serviceEventDetails"`
}

// serviceEvents counts AwsServiceEvent records by event name and key ID in
// the node's audit trail.
func (nd *node) serviceEvents(t testing.TB) map[string]map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(nd.dir, "audit", "trail-"+nd.id+"-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var rec struct {
				Event auditEvent `json:"event"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Event.EventType != "AwsServiceEvent" {
				continue
			}
			id, _ := rec.Event.ServiceEventDetails["keyId"].(string)
			if out[rec.Event.EventName] == nil {
				out[rec.Event.EventName] = map[string]int{}
			}
			out[rec.Event.EventName][id]++
		}
		f.Close()
	}
	return out
}

// verifyAudit runs `trent audit verify` on the node's trail.
func (nd *node) verifyAudit(t testing.TB) {
	t.Helper()
	cmd := exec.Command(nd.bin, "audit", "verify", "--dir", filepath.Join(nd.dir, "audit"), "--node", nd.id)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("trent audit verify (node %s): %v\n%s", nd.id, err, tail(string(out), 2000))
		return
	}
	t.Logf("audit verify %s: %s", nd.id, strings.TrimSpace(tail(string(out), 300)))
}

// pgScript runs scripts/ci/postgres.sh with args on the PostgreSQL
// cluster in dir (TRENT_PG_DIR).
func pgScript(t testing.TB, dir string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "ci", "postgres.sh"), args...)
	cmd.Env = append(os.Environ(), "TRENT_PG_DIR="+dir)
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// privatePostgres starts a PostgreSQL server of the test's own, so that
// restarting it disturbs no other test running in parallel. It returns the
// URL and the server's directory, or "" if it could not be started.
func privatePostgres(t testing.TB) (string, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "trent-cluster-pg-") // not t.TempDir: the postgres user must reach it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pgScript(t, dir, "destroy")
		os.RemoveAll(dir)
	})
	u, err := pgScript(t, dir, "start")
	if err != nil {
		t.Logf("private PostgreSQL did not start (%v)", err)
		return "", ""
	}
	return u, dir
}
