package multiregion

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
	adminAKID = "AKIAMULTIREGION00001"
	account   = "111122223333"
)

var adminSecret = "mrk-" + randHex(20)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
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

// deployment is one Region's Trent: its own data directory, root key,
// store and process.
type deployment struct {
	region, addr, dir, store, rootKey, clock string
	pub                                      string // its peers: entry (replication-identity output)
	bin                                      string
	metrics                                  string // metrics listener, "" for none

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

func (d *deployment) env() []string {
	return append(os.Environ(), "TRENT_ACCESS_KEY_ID="+adminAKID, "TRENT_SECRET_ACCESS_KEY="+adminSecret,
		"TRENT_ROOT_KEY="+d.rootKey, "TRENT_TEST_SCHEDULER_INTERVAL=100ms", "TRENT_TEST_CLOCK_FILE="+d.clock)
}

func (d *deployment) endpoint() string { return "http://" + d.addr }

// newDeployment prepares a deployment of region and reads its public
// replication identity with `trent admin replication-identity`. store is
// "" for SQLite in its data directory.
func newDeployment(t *testing.T, base, region, store, rootKey, clock string) *deployment {
	t.Helper()
	d := &deployment{region: region, addr: freePort(t), dir: filepath.Join(base, region), store: store,
		rootKey: rootKey, clock: clock, bin: trentBinary(t)}
	if d.rootKey == "" {
		d.rootKey = randHex(32)
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{"admin", "replication-identity", "--data-dir", d.dir, "--region", region}
	if store != "" {
		args = append(args, "--store", store)
	}
	cmd := exec.Command(d.bin, args...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("replication-identity: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	d.pub = strings.Join(lines, "\n")
	t.Cleanup(d.kill)
	debugLogs = append(debugLogs, filepath.Join(d.dir, "stderr.log"))
	return d
}

// configure writes the deployment's configuration: its peers, each
// reached at the endpoint given (a capturing proxy in the tests).
func (d *deployment) configure(t *testing.T, peers map[*deployment]string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nregion: %s\nlisten: %s\ndata_dir: %s\n", d.region, d.addr, d.dir)
	if d.store != "" {
		fmt.Fprintf(&b, "store: %s\n", d.store)
	}
	if len(peers) > 0 {
		b.WriteString("peers:\n")
	}
	for p, endpoint := range peers {
		entry := strings.Replace(p.pub, "https://HOST:PORT", endpoint, 1)
		for _, l := range strings.Split(entry, "\n") {
			b.WriteString("  " + l + "\n")
		}
	}
	path := filepath.Join(d.dir, "trent.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (d *deployment) start(t *testing.T) {
	t.Helper()
	d.mu.Lock()
	f, err := os.OpenFile(filepath.Join(d.dir, "stderr.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	metrics := d.metrics
	if metrics == "" {
		metrics = "off"
	}
	cmd := exec.Command(d.bin, "serve", "--config", filepath.Join(d.dir, "trent.yaml"), "--metrics-listen", metrics, "--node-id", "n-"+d.region)
	cmd.Env = d.env()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.cmd, d.log = cmd, f
	d.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(d.endpoint() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(d.dir, "stderr.log"))
			t.Fatalf("%s not ready; log:\n%s", d.region, tail(string(out), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// admin runs `trent admin ARGS --config` on d and returns its output.
func (d *deployment) admin(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(d.bin, append(append([]string{"admin"}, args...), "--config", filepath.Join(d.dir, "trent.yaml"))...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("trent admin %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// kill sends SIGKILL (kill -9) and reaps the process.
func (d *deployment) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.cmd.Wait()
	d.log.Close()
	d.cmd = nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (d *deployment) client() *kms.Client {
	return kms.New(kms.Options{
		Region: d.region, BaseEndpoint: aws.String(d.endpoint()),
		Credentials: credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient:  awshttp.NewBuildableClient().WithTimeout(15 * time.Second),
		Retryer:     aws.NopRetryer{},
	})
}

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

// proxy forwards TCP connections to a target and keeps every byte that
// crossed, both ways.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	seen   bytes.Buffer
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *proxy) endpoint() string { return "http://" + p.l.Addr().String() }

type recorder struct{ p *proxy }

func (r recorder) Write(b []byte) (int, error) {
	r.p.mu.Lock()
	r.p.seen.Write(b)
	r.p.mu.Unlock()
	return len(b), nil
}

func (p *proxy) serve(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(io.MultiWriter(u, recorder{p}), c); done <- struct{}{} }()
	go func() { io.Copy(io.MultiWriter(c, recorder{p}), u); done <- struct{}{} }()
	<-done
}

func (p *proxy) bytes() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.seen.Bytes())
}

// link configures and starts deployments that all know each other, each
// reaching the others through a capturing proxy. It returns the proxies.
func link(t *testing.T, ds ...*deployment) []*proxy {
	t.Helper()
	var proxies []*proxy
	via := map[*deployment]string{}
	for _, d := range ds {
		p := newProxy(t, d.addr)
		proxies = append(proxies, p)
		via[d] = p.endpoint()
	}
	for _, d := range ds {
		peers := map[*deployment]string{}
		for _, o := range ds {
			if o != d {
				peers[o] = via[o]
			}
		}
		d.configure(t, peers)
		d.start(t)
	}
	return proxies
}

// waitFor polls cond every 100ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			for _, f := range debugLogs {
				out, _ := os.ReadFile(f)
				t.Logf("%s:\n%s", f, tail(string(out), 2500))
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// debugLogs are the logs waitFor shows when it times out.
var debugLogs []string
