package k8s

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
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
)

const (
	region    = "us-east-1"
	account   = "111122223333"
	cluster   = "test-cluster"
	pluginARN = "arn:aws:iam::" + account + ":user/k8s-kms-plugin"
	adminAKID = "AKIAK8SADMIN00000001"
	pluginKey = "AKIAK8SPLUGIN0000001"
)

var (
	adminSecret  = randHex(20)
	pluginSecret = randHex(20)

	binDir  string
	binOnce sync.Once
	binErr  error
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "trent-k8s-bin-")
	if err != nil {
		panic(err)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// trentBinary builds cmd/trent of the module two directories up, once.
func trentBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(binDir, "trent")
	binOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/trent")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/trent: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago: Trent is
// restarted on the same address, where the plugin keeps calling it.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a child process whose output is kept and scanned for a line
// "PREFIX VALUE".
type proc struct {
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	exited chan struct{}
}

func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startProc(t testing.TB, name string, env []string, prefix string, args ...string) (*proc, string) {
	t.Helper()
	cmd := exec.Command(trentBinary(t), args...)
	cmd.Env = env
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.out.Write(b)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if f := strings.Fields(line); len(f) == 2 && f[0] == prefix {
				select {
				case found <- f[1]:
				default:
				}
			}
		}
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	select {
	case v := <-found:
		return p, v
	case <-p.exited:
		t.Fatalf("%s exited before serving:\n%s", name, p.Output())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not print %q:\n%s", name, prefix, p.Output())
	}
	return nil, ""
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// stop sends SIGTERM and waits for the process to exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatalf("%s did not stop on SIGTERM:\n%s", p.name, p.Output())
	}
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// baseEnv is the environment of the children: this process's, without
// anything that would point an AWS client elsewhere or give it other
// credentials.
func baseEnv(home string) []string {
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "TRENT_") || k == "HOME" || k == "XDG_CONFIG_HOME" || k == "XDG_DATA_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// trent is a trent serve process and what it takes to restart it.
type trent struct {
	*proc
	addr, dataDir, home, rootKey string
	args                         []string
	Endpoint                     string
}

// principalsFile declares the plugin's IAM user: it has no IAM policy, so
// only the key policy lets it use a key.
const principalsFile = `accounts:
  - id: "` + account + `"
    users:
      - name: k8s-kms-plugin
        access_keys:
          - id: ` + pluginKey + `
            secret_env: K8S_PLUGIN_SECRET
`

// startTrent starts trent serve on a fresh data directory; extra are
// more flags.
func startTrent(t testing.TB, extra ...string) *trent {
	t.Helper()
	dir := t.TempDir()
	s := &trent{addr: freePort(t), dataDir: filepath.Join(dir, "data"), home: filepath.Join(dir, "home"), rootKey: randHex(32)}
	os.MkdirAll(s.home, 0o700)
	pf := filepath.Join(dir, "principals.yaml")
	if err := os.WriteFile(pf, []byte(principalsFile), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = append([]string{"serve", "--listen", s.addr, "--data-dir", s.dataDir, "--principals", pf}, extra...)
	s.start(t)
	return s
}

func (s *trent) env() []string {
	return append(baseEnv(s.home), "TRENT_ACCESS_KEY_ID="+adminAKID, "TRENT_SECRET_ACCESS_KEY="+adminSecret,
		"TRENT_ROOT_KEY="+s.rootKey, "K8S_PLUGIN_SECRET="+pluginSecret)
}

func (s *trent) start(t testing.TB) {
	t.Helper()
	s.proc, s.Endpoint = startProc(t, "trent serve", s.env(), "endpoint:", s.args...)
}

// restart stops the server and starts it again on the same address and
// data directory.
func (s *trent) restart(t testing.TB) {
	t.Helper()
	s.stop(t)
	s.start(t)
}

// admin returns a KMS client signed as the account's root (the bootstrap
// administrator), without retries.
func (s *trent) admin() *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String("http://" + s.addr),
		Credentials:  credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient:   awshttp.NewBuildableClient(),
		Retryer:      aws.NopRetryer{},
	})
}

// auditEvents returns the trail's events named name, as trent audit list
// prints them.
func (s *trent) auditEvents(t testing.TB, name string) []map[string]any {
	t.Helper()
	cmd := exec.Command(trentBinary(t), "audit", "list", "--data-dir", s.dataDir, "--event", name)
	cmd.Env = s.env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("trent audit list: %v", err)
	}
	var evs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// keyPolicy lets the account root administer the key and only the plugin's
// user encrypt and decrypt, and only with this cluster's context.
func keyPolicy() string {
	return `{"Version":"2012-10-17","Statement":[
 {"Sid":"Administration","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},
  "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand"],
  "Resource":"*"},
 {"Sid":"KubernetesKMSPlugin","Effect":"Allow","Principal":{"AWS":"` + pluginARN + `"},
  "Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:EncryptionContext:k8s-kms-plugin":"` + cluster + `"}}}]}`
}

// createKey creates a symmetric key with keyPolicy and the alias
// alias/NAME, and returns its ARN.
func (s *trent) createKey(t testing.TB, alias string) string {
	t.Helper()
	ctx := context.Background()
	out, err := s.admin().CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(keyPolicy()), Description: aws.String("Kubernetes Secrets")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if _, err := s.admin().CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.Arn}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// currentKeyID is the key ID the plugin should report for key: its ARN and
// its current material.
func (s *trent) currentKeyID(t testing.TB, key string) string {
	t.Helper()
	out, err := s.admin().DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil {
		t.Fatalf("DescribeKey: %v", err)
	}
	if out.KeyMetadata.CurrentKeyMaterialId == nil {
		t.Fatal("DescribeKey: no CurrentKeyMaterialId")
	}
	return aws.ToString(out.KeyMetadata.Arn) + ":" + aws.ToString(out.KeyMetadata.CurrentKeyMaterialId)
}

// plugin is a trent k8s-kms-plugin process.
type plugin struct {
	*proc
	socket string
	args   []string
	env    []string
}

// startPlugin starts trent k8s-kms-plugin for s's endpoint, signed as the
// plugin's user, with the key keyRef, serving on a socket in a fresh
// directory.
func startPlugin(t testing.TB, s *trent, keyRef string) *plugin {
	t.Helper()
	return startPluginCluster(t, s, keyRef, cluster)
}

// startPluginCluster is startPlugin for the cluster name clusterName.
func startPluginCluster(t testing.TB, s *trent, keyRef, clusterName string) *plugin {
	t.Helper()
	dir := t.TempDir()
	p := &plugin{socket: filepath.Join(dir, "kms.sock")}
	p.args = []string{"k8s-kms-plugin", "--socket", p.socket, "--endpoint", s.Endpoint,
		"--key-id", keyRef, "--cluster-name", clusterName, "--region", region}
	p.env = append(baseEnv(dir), "AWS_ACCESS_KEY_ID="+pluginKey, "AWS_SECRET_ACCESS_KEY="+pluginSecret)
	p.start(t)
	return p
}

func (p *plugin) start(t testing.TB) {
	t.Helper()
	p.proc, _ = startProc(t, "trent k8s-kms-plugin", p.env, "socket:", p.args...)
}

// waitFor polls f every 100ms until it returns nil or d passes.
func waitFor(t testing.TB, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
