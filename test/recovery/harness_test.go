package recovery

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

const (
	region    = "us-east-1"
	adminAKID = "AKIARECOVERYADMIN001"
)

var adminSecret = "sec-" + randHex(20)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// trentBinary builds cmd/trent once per test run and returns its path.
func trentBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "trent-recovery-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "trent")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/trentkms/trent/cmd/trent").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/trent: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// install is where one installation's files live: its data directory, its
// root key file (outside the data directory) and its HOME.
type install struct {
	DataDir, KeyFile, Home string
	// Store is --store ("" for DATA_DIR/trent.db); NodeID is --node-id.
	Store, NodeID string
}

func newInstall(t *testing.T) install {
	home := t.TempDir()
	return install{DataDir: filepath.Join(t.TempDir(), "data"), KeyFile: filepath.Join(home, "keys", "root.key"), Home: home}
}

func (in install) env() []string {
	env := []string{"TRENT_ACCESS_KEY_ID=" + adminAKID, "TRENT_SECRET_ACCESS_KEY=" + adminSecret,
		"XDG_CONFIG_HOME=" + in.Home, "HOME=" + in.Home}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "TRENT_ACCESS_KEY_ID", "TRENT_SECRET_ACCESS_KEY", "TRENT_ROOT_KEY", "XDG_CONFIG_HOME", "HOME":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// dirArgs are the flags that name the installation's state.
func (in install) dirArgs() []string {
	args := []string{"--data-dir", in.DataDir}
	if in.Store != "" {
		args = append(args, "--store", in.Store)
	}
	return args
}

// server is a `trent serve` child process.
type server struct {
	Endpoint string
	cmd      *exec.Cmd
	mu       sync.Mutex
	out      bytes.Buffer
	exited   chan struct{}
	exitErr  error
}

func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// serve starts `trent serve` for in on a random loopback port and waits
// until it prints its endpoint. It is killed when the test ends.
func serve(t *testing.T, in install) *server {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--root-key-file", in.KeyFile}, in.dirArgs()...)
	if in.NodeID != "" {
		args = append(args, "--node-id", in.NodeID)
	}
	cmd := exec.Command(trentBinary(t), args...)
	cmd.Env = in.env()
	s := &server{cmd: cmd, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = s
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.Write([]byte(line + "\n"))
			if f := strings.Fields(line); len(f) == 2 && f[0] == "endpoint:" {
				select {
				case found <- f[1]:
				default:
				}
			}
		}
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.kill)
	select {
	case s.Endpoint = <-found:
	case <-s.exited:
		t.Fatalf("trent serve exited (%v) before serving; output:\n%s", s.exitErr, s.Output())
	case <-time.After(60 * time.Second):
		t.Fatalf("trent serve did not print its endpoint; output:\n%s", s.Output())
	}
	return s
}

func (s *server) kill() {
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.exitErr != nil {
			t.Fatalf("trent serve exited with %v after SIGTERM; output:\n%s", s.exitErr, s.Output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("trent serve did not stop on SIGTERM; output:\n%s", s.Output())
	}
}

// kms returns a KMS client of the administrator, without retries.
func (s *server) kms() *kms.Client {
	return kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient:  awshttp.NewBuildableClient(), Retryer: aws.NopRetryer{}})
}

// iam sends a signed IAM query-API request as the administrator and fails
// the test unless it succeeds.
func (s *server) iam(t *testing.T, kv ...string) []byte {
	t.Helper()
	params := url.Values{"Version": {"2010-05-08"}}
	for i := 0; i+1 < len(kv); i += 2 {
		params.Set(kv[i], kv[i+1])
	}
	body := params.Encode()
	req, _ := http.NewRequest(http.MethodPost, s.Endpoint+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: adminAKID, SecretAccessKey: adminSecret},
		req, hex.EncodeToString(sum[:]), "iam", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IAM %v: %d %s", kv[:2], resp.StatusCode, b)
	}
	return b
}

// trent runs the trent binary for in with args and returns its combined
// output and error.
func trent(t *testing.T, in install, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(trentBinary(t), args...)
	cmd.Env = in.env()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("trent %v did not finish in 120 s; output:\n%s", args, out)
	}
	return string(out), err
}

func mustTrent(t *testing.T, in install, args ...string) string {
	t.Helper()
	out, err := trent(t, in, args...)
	if err != nil {
		t.Fatalf("trent %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
