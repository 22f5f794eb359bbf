package security

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
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
	account = "111122223333"
	region  = "us-east-1"
	// adminAKID is the bootstrap administrator of every test server.
	adminAKID = "AKIASECTESTADMIN0001"
)

// adminSecret is random per run, so that scans for it cannot match a
// constant in a binary.
var adminSecret = "sec-" + randHex(20)

func TestMain(m *testing.M) { trentproc.Main(m) }

// trentBinary builds cmd/trent once per test run and returns its path.
func trentBinary(t testing.TB) string {
	t.Helper()
	return trentproc.Build(t)
}

// trentHooksBinary builds cmd/trent with the trenttest build tag once per
// test run and returns its path: a trent that honours the test hooks
// (TRENT_TEST_CLOCK_FILE, TRENT_TEST_SCHEDULER_INTERVAL).
func trentHooksBinary(t testing.TB) string {
	t.Helper()
	return trentproc.Build(t, "trenttest")
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Creds are SigV4 credentials.
type Creds struct {
	AKID, Secret, Token string
}

// Admin is the bootstrap administrator of every test server.
var Admin = Creds{AKID: adminAKID, Secret: adminSecret}

// Opts configure a test server.
type Opts struct {
	// DataDir is the data directory (default: a new t.TempDir).
	DataDir string
	// ConfigHome is XDG_CONFIG_HOME for the process (default: a new
	// t.TempDir), so that nothing lands in the user's home.
	ConfigHome string
	// RootKeyHex is passed as TRENT_ROOT_KEY (default: a random key).
	// Set NoRootKeyEnv to leave TRENT_ROOT_KEY unset.
	RootKeyHex   string
	NoRootKeyEnv bool
	// Args are extra arguments to `trent serve`.
	Args []string
	// Env are extra environment variables (KEY=VALUE).
	Env []string
	// NoFile, when > 0, sets both the soft and the hard RLIMIT_NOFILE of
	// the process (through the shell's ulimit) before trent starts.
	NoFile int
	// ExpectFail starts the process and waits for it to exit instead of
	// serving; Start then returns a Server whose Exit and Output say how.
	ExpectFail bool
}

// Server is a `trent serve` child process. Its Process gives Endpoint,
// Output, Alive, Exited, Kill, Signal and PID (of the shell that exec'd
// trent when Opts.NoFile is set, which is the same process).
type Server struct {
	*trentproc.Process
	DataDir    string
	ConfigHome string
	RootKeyHex string
}

// Start runs `trent serve` on a random loopback port and waits until it
// prints its endpoint (or, with ExpectFail, until it exits). The process is
// killed when the test ends.
func Start(t testing.TB, o Opts) *Server {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.ConfigHome == "" {
		o.ConfigHome = t.TempDir()
	}
	if o.RootKeyHex == "" && !o.NoRootKeyEnv {
		o.RootKeyHex = randHex(32)
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", o.DataDir}, o.Args...)
	bin := trentBinary(t)
	for _, kv := range o.Env {
		if strings.HasPrefix(kv, "TRENT_TEST_") {
			bin = trentHooksBinary(t)
		}
	}
	if o.NoFile > 0 {
		args = append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, o.NoFile), bin}, args...)
		bin = "sh"
	}
	set := []string{
		"TRENT_ACCESS_KEY_ID=" + adminAKID, "TRENT_SECRET_ACCESS_KEY=" + adminSecret,
		"XDG_CONFIG_HOME=" + o.ConfigHome, "HOME=" + o.ConfigHome,
	}
	if !o.NoRootKeyEnv {
		set = append(set, "TRENT_ROOT_KEY="+o.RootKeyHex)
	}
	until := trentproc.UntilEndpoint
	if o.ExpectFail {
		until = trentproc.UntilExit
	}
	p := trentproc.Start(t, trentproc.Options{Path: bin, Args: args,
		Env: append(trentproc.Environ(set...), o.Env...), Until: until, Timeout: 30 * time.Second})
	return &Server{Process: p, DataDir: o.DataDir, ConfigHome: o.ConfigHome, RootKeyHex: o.RootKeyHex}
}

// Stop sends SIGTERM and waits up to 30 s for a clean exit.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.Process.Stop(t, 30*time.Second)
}

// KMS returns an aws-sdk-go-v2 KMS client for the server, signed with c,
// without retries (a retry would hide what the server answered).
func (s *Server) KMS(c Creds, fns ...func(*kms.Options)) *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AKID, c.Secret, c.Token),
		HTTPClient:   awshttp.NewBuildableClient(),
		Retryer:      aws.NopRetryer{},
	}, fns...)
}

// Response is what a raw HTTP request got back.
type Response struct {
	Status    int
	Header    http.Header
	ErrorType string
	Message   string
	Body      []byte
}

// rawHTTP is the client of raw requests: no keep-alive between tests'
// requests is needed, and a hung server fails the test instead of hanging.
var rawHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

// NewKMSRequest returns a POST of body with the headers every AWS SDK sends
// for a KMS JSON 1.1 call (Content-Type, X-Amz-Target TrentService.<op>;
// op is used verbatim if it contains a dot). It is not signed.
func (s *Server) NewKMSRequest(t testing.TB, op string, body []byte) *http.Request {
	t.Helper()
	target := op
	if op != "" && !strings.Contains(op, ".") {
		target = "TrentService." + op
	}
	req, err := http.NewRequest(http.MethodPost, s.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	return req
}

// Sign signs req (whose body is body) with c for service ("kms", "iam",
// "sts") as the AWS SDKs do: every header already on req is signed.
// Headers added after Sign are not covered by the signature.
func Sign(t testing.TB, req *http.Request, body []byte, c Creds, service string) {
	t.Helper()
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: c.AKID, SecretAccessKey: c.Secret, SessionToken: c.Token},
		req, hex.EncodeToString(sum[:]), service, region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

// Do sends req and decodes an AWS JSON error body if the status is not 200.
// A transport error (connection refused or reset) fails the test.
func Do(t testing.TB, req *http.Request) Response {
	t.Helper()
	r, err := DoErr(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Header.Get("X-Amz-Target"), err)
	}
	return r
}

// DoErr is Do returning the transport error instead of failing.
func DoErr(req *http.Request) (Response, error) {
	resp, err := rawHTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil {
			out.ErrorType, out.Message = e.Type, e.Message
			if i := strings.LastIndexByte(out.ErrorType, '#'); i >= 0 {
				out.ErrorType = out.ErrorType[i+1:]
			}
		}
	}
	return out, nil
}

// Call sends a KMS JSON request for op with body, signed with c (unsigned
// when c is the zero Creds).
func (s *Server) Call(t testing.TB, c Creds, op string, body any) Response {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
		b = []byte("{}")
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
		if string(b) == "null" {
			b = []byte("{}")
		}
	}
	req := s.NewKMSRequest(t, op, b)
	if c.AKID != "" {
		Sign(t, req, b, c, "kms")
	}
	return Do(t, req)
}

// Query sends a signed IAM or STS query-API request (service "iam" or
// "sts") with the given action and parameters, and returns the status and
// the XML body.
func (s *Server) Query(t testing.TB, c Creds, service string, kv ...string) (int, []byte) {
	t.Helper()
	params := url.Values{}
	switch service {
	case "iam":
		params.Set("Version", "2010-05-08")
	case "sts":
		params.Set("Version", "2011-06-15")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		params.Set(kv[i], kv[i+1])
	}
	body := []byte(params.Encode())
	req, err := http.NewRequest(http.MethodPost, s.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	Sign(t, req, body, c, service)
	r := Do(t, req)
	return r.Status, r.Body
}

// MustQuery is Query failing the test unless the status is 200.
func (s *Server) MustQuery(t testing.TB, c Creds, service string, kv ...string) []byte {
	t.Helper()
	status, body := s.Query(t, c, service, kv...)
	if status != http.StatusOK {
		t.Fatalf("%s %v: %d %s", service, kv[:min(2, len(kv))], status, body)
	}
	return body
}

// Trent runs the trent binary with args (an admin or audit subcommand) and
// returns its combined output and error.
func Trent(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(trentBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// DirSize is the total size in bytes of the regular files under dir.
func DirSize(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// WaitFor retries f every 50 ms until it returns nil or d passes.
func WaitFor(t testing.TB, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CreateKey creates a symmetric key as c and returns its key ID.
func (s *Server) CreateKey(t testing.TB, c Creds, params map[string]any) string {
	t.Helper()
	r := s.Call(t, c, "CreateKey", params)
	if r.Status != http.StatusOK {
		t.Fatalf("CreateKey: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	var out struct{ KeyMetadata struct{ KeyId string } }
	if err := json.Unmarshal(r.Body, &out); err != nil || out.KeyMetadata.KeyId == "" {
		t.Fatalf("CreateKey: %s (%v)", r.Body, err)
	}
	return out.KeyMetadata.KeyId
}
