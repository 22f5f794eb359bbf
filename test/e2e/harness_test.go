package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
)

const (
	account = "111122223333"
	region  = "us-east-1"
	// adminAKID is the administrator access key every test node is
	// bootstrapped with.
	adminAKID = "AKIAE2ETESTADMIN0001"
)

// adminSecret is random per test run, so that scanning the data directory
// for it cannot match a constant that happens to be in a binary or a file.
var adminSecret = "e2e-" + randHex(20)

// shared is the node the read-mostly tests share; each test makes its own keys.
var shared *node.Node

func TestMain(m *testing.M) {
	// The nodes' root key files (config.DefaultRootKeyFile) go to a
	// temporary directory, never to the home directory of whoever runs
	// the tests.
	cfgHome, err := os.MkdirTemp("", "trent-e2e-config-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CONFIG_HOME", cfgHome)
	dir, err := os.MkdirTemp("", "trent-e2e-shared-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, err = newNode(dir, node.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start shared node:", err)
		os.Exit(1)
	}
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := shared.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "shutdown shared node:", err)
	}
	cancel()
	os.RemoveAll(dir)
	os.RemoveAll(cfgHome)
	os.Exit(code)
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func randBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newNode starts a node on a random loopback port with the administrator
// credential of the suite; opt's credential fields are filled in if empty.
func newNode(dir string, opt node.Options) (*node.Node, error) {
	if opt.Env.AccessKeyID == "" {
		opt.Env.AccessKeyID, opt.Env.SecretAccessKey = adminAKID, adminSecret
	}
	return node.Start(configFor(dir), opt)
}

// startNode starts a node in dir and shuts it down when the test ends
// (unless the test already did, by calling stopNode).
func startNode(t testing.TB, dir string, opt node.Options) *node.Node {
	t.Helper()
	n, err := newNode(dir, opt)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { stopNode(t, n) })
	return n
}

var stopped sync.Map // *node.Node -> struct{}

func stopNode(t testing.TB, n *node.Node) {
	t.Helper()
	if _, done := stopped.LoadOrStore(n, struct{}{}); done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// clock is a controllable clock: real time plus an offset.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// clockSigner is the SDK's SigV4 signer with its signing time taken from a
// clock of the test's choosing: the node's controlled clock, or a skewed one.
type clockSigner struct {
	s   *v4.Signer
	now func() time.Time
}

func (c clockSigner) SignHTTP(ctx context.Context, cr aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, opts ...func(*v4.SignerOptions)) error {
	return c.s.SignHTTP(ctx, cr, r, payloadHash, service, region, c.now(), opts...)
}

func withClock(now func() time.Time) func(*kms.Options) {
	return func(o *kms.Options) { o.HTTPSignerV4 = clockSigner{s: v4.NewSigner(), now: now} }
}

func withCredentials(akid, secret string) func(*kms.Options) {
	return func(o *kms.Options) { o.Credentials = credentials.NewStaticCredentialsProvider(akid, secret, "") }
}

// newClient returns an SDK client for endpoint, signed as the administrator,
// without retries (a retried error would hide what the server answered).
func newClient(endpoint string, fns ...func(*kms.Options)) *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient:   awshttp.NewBuildableClient(),
		Retryer:      aws.NopRetryer{},
	}, fns...)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// anyMessage tells wantAPIError not to check the message.
const anyMessage = "\x00any"

// wantAPIError fails the test unless err is an AWS API error with code and,
// unless msg is anyMessage, exactly message msg.
func wantAPIError(t testing.TB, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %s %q", code, msg)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code = %s (%q), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if msg != anyMessage && ae.ErrorMessage() != msg {
		t.Fatalf("%s message =\n  %q\nwant\n  %q", code, ae.ErrorMessage(), msg)
	}
}

// wantAPIErrorPrefix is wantAPIError for messages whose tail legitimately
// differs from what AWS recorded (enum lists that grew since).
func wantAPIErrorPrefix(t testing.TB, err error, code, prefix string) {
	t.Helper()
	wantAPIError(t, err, code, anyMessage)
	var ae smithy.APIError
	errors.As(err, &ae)
	if !strings.HasPrefix(ae.ErrorMessage(), prefix) {
		t.Fatalf("%s message =\n  %q\nwant prefix\n  %q", code, ae.ErrorMessage(), prefix)
	}
}

func keyARN(id string) string { return "arn:aws:kms:" + region + ":" + account + ":key/" + id }
func aliasARN(name string) string {
	return "arn:aws:kms:" + region + ":" + account + ":" + name
}

// uniq returns a name unique to this run, for aliases and descriptions.
func uniq(prefix string) string { return prefix + "-" + randHex(6) }

// rawResponse is what a raw HTTP request got back.
type rawResponse struct {
	Status    int
	Header    http.Header
	ErrorType string
	Message   string
	Body      []byte
}

var rawHTTP = &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}

// rawCall POSTs body to endpoint with X-Amz-Target TrentService.<op> (op
// used verbatim if it contains a dot), lets sign prepare the request, and
// decodes an error body if there is one.
func rawCall(t testing.TB, endpoint, op string, body []byte, sign func(*http.Request, []byte)) rawResponse {
	t.Helper()
	target := op
	if !strings.Contains(op, ".") {
		target = "TrentService." + op
	}
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if sign != nil {
		sign(req, body)
	}
	resp, err := rawHTTP.Do(req)
	if err != nil {
		t.Fatalf("raw %s: %v", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("raw %s: error body %q is not JSON: %v", op, data, err)
		}
		out.ErrorType, out.Message = e.Type, e.Message
	}
	return out
}

// configFor is the configuration of a test node with data directory dir.
func configFor(dir string) *config.File {
	// The suite's deliberate authentication failures all come from
	// 127.0.0.1: a burst they cannot exhaust (test/security tests the
	// limit).
	return &config.File{Listen: "127.0.0.1:0", DataDir: dir, Limits: config.LimitsFile{FailedAuthBurst: 10000}}
}
