package recovery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trentkms/trent/test/internal/trentproc"
)

const (
	region    = "us-east-1"
	adminAKID = "AKIARECOVERYADMIN001"
)

var adminSecret = "sec-" + randHex(20)

func TestMain(m *testing.M) { trentproc.Main(m) }

// trentBinary builds cmd/trent once per test run and returns its path.
func trentBinary(t testing.TB) string {
	t.Helper()
	return trentproc.Build(t)
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
	return trentproc.Environ("TRENT_ACCESS_KEY_ID="+adminAKID, "TRENT_SECRET_ACCESS_KEY="+adminSecret,
		"XDG_CONFIG_HOME="+in.Home, "HOME="+in.Home)
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
type server struct{ *trentproc.Process }

// serve starts `trent serve` for in on a random loopback port and waits
// until it prints its endpoint. It is killed when the test ends.
func serve(t *testing.T, in install) *server {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--root-key-file", in.KeyFile}, in.dirArgs()...)
	if in.NodeID != "" {
		args = append(args, "--node-id", in.NodeID)
	}
	return &server{trentproc.Start(t, trentproc.Options{Path: trentBinary(t), Args: args, Env: in.env()})}
}

func (s *server) kill() { s.Kill() }

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.Stop(t, 30*time.Second)
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
