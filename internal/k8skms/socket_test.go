package k8skms

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	kmsapi "k8s.io/kms/apis/v2"
	kmsservice "k8s.io/kms/pkg/service"
)

// blackHole returns a Remote backend whose endpoint accepts connections
// and never answers: a hung Trent.
func blackHole(t *testing.T) Remote {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return Remote{Client: kms.New(kms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + l.Addr().String()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE0000000", "secret", ""),
		HTTPClient:  awshttp.NewBuildableClient(), Retryer: aws.NopRetryer{},
	})}
}

func newTestPlugin(t *testing.T, b Backend) *Plugin {
	t.Helper()
	p, err := New(Config{KeyID: "alias/k8s", Cluster: "prod", Backend: b, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dial(t *testing.T, path string) kmsapi.KeyManagementServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return kmsapi.NewKeyManagementServiceClient(cc)
}

func TestListen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "kms.sock")
	b := blackHole(t)
	s, err := Listen(path, newTestPlugin(t, b))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != SocketMode {
		t.Fatalf("socket mode %v", fi.Mode())
	}
	// Nothing but the socket is left in the directory.
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("directory holds %d entries, want the socket only", len(es))
	}
	// A Trent that does not answer: Status answers within the plugin's
	// timeout, unhealthy, and names the configured key until it has seen
	// a key ID.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := dial(t, path).Status(ctx, &kmsapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Healthz == "ok" || !strings.HasPrefix(st.Healthz, "timeout") || st.Version != "v2" || st.KeyId != "alias/k8s" {
		t.Fatalf("status %+v", st)
	}
	// Encrypt fails with DeadlineExceeded, not a hang.
	if _, err := dial(t, path).Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: []byte("seed"), Uid: "u"}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("encrypt against a hung Trent: %v", err)
	}
	// A second plugin on a live socket is refused.
	if _, err := Listen(path, newTestPlugin(t, b)); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
	s.Stop(ctx)
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after Stop: %v", err)
	}
}

func TestListenRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newTestPlugin(t, Remote{})
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	for name, path := range map[string]string{
		"fail/not-a-socket": file,
		"fail/no-directory": filepath.Join(dir, "missing", "kms.sock"),
	} {
		if _, err := Listen(path, p); err == nil {
			t.Errorf("%s: Listen(%s) succeeded", name, path)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "x" {
		t.Error("Listen changed a file that is not a socket")
	}
	// A stale socket (nothing listening) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	s, err := Listen(stale, p)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	s.Stop(context.Background())
}

func TestDecryptRefusesBadCiphertext(t *testing.T) {
	t.Parallel()
	p := newTestPlugin(t, Remote{})
	for name, c := range map[string][]byte{"fail/empty": nil, "fail/huge": make([]byte, maxCiphertext+1)} {
		if _, err := p.Decrypt(context.Background(), "uid", &kmsservice.DecryptRequest{Ciphertext: c}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: decrypt: %v, want InvalidArgument", name, err)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Config{
		"fail/no-key":     {Cluster: "c", Backend: Remote{}},
		"fail/no-cluster": {KeyID: "k", Backend: Remote{}},
		"fail/no-backend": {KeyID: "k", Cluster: "c"},
		"fail/long-key":   {KeyID: strings.Repeat("k", 2049), Cluster: "c", Backend: Remote{}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}
