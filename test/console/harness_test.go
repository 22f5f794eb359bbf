package console

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
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	region    = "us-east-1"
	account   = "111122223333"
	adminAKID = "AKIACONSOLEADMIN0001"
)

var (
	adminSecret = randHex(20)

	binDir  string
	binOnce sync.Once
	binErr  error
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "trent-console-bin-")
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

// trent is a trent serve child process on a fresh data directory.
type trent struct {
	cmd      *exec.Cmd
	mu       sync.Mutex
	out      strings.Builder
	exited   chan struct{}
	Endpoint string // http://127.0.0.1:PORT
	Console  string // the banner's console URL
}

func (s *trent) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// startTrent starts trent serve on a loopback port with the bootstrap
// administrator adminAKID; extra are more flags.
func startTrent(t testing.TB, extra ...string) *trent {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--metrics-listen", "off"}, extra...)
	cmd := exec.Command(trentBinary(t), args...)
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "TRENT_ACCESS_KEY_ID=" + adminAKID,
		"TRENT_SECRET_ACCESS_KEY=" + adminSecret, "TRENT_ROOT_KEY=" + randHex(32)}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "TRENT_") || k == "HOME" || k == "XDG_CONFIG_HOME" || k == "XDG_DATA_HOME" {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	s := &trent{cmd: cmd, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.out.Write(b)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			s.mu.Unlock()
			f := strings.Fields(line)
			if len(f) == 2 && f[0] == "endpoint:" {
				s.Endpoint = f[1]
			}
			if len(f) == 2 && f[0] == "console:" {
				s.Console = f[1]
			}
			if len(f) >= 2 && f[0] == "access" && f[1] == "key:" {
				close(ready)
			}
		}
		cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.exited
	})
	select {
	case <-ready:
	case <-s.exited:
		t.Fatalf("trent serve exited before serving:\n%s", s.Output())
	case <-time.After(60 * time.Second):
		t.Fatalf("trent serve did not start:\n%s", s.Output())
	}
	return s
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

// chromium returns the path of the Chromium binary; the test fails (it
// never skips) when there is none: the console's tests are its browser
// tests.
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TRENT_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: install Debian's chromium (scripts/ci/install-debs.sh) or set TRENT_TEST_CHROMIUM")
	return ""
}

// browser starts a headless Chromium and returns a tab's context.
func browser(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions"),
		chromedp.WindowSize(1280, 1600),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// artifactDir is where screenshots go: $TRENT_TEST_ARTIFACTS/console if
// set (CI keeps it), else a directory under the test's temporary
// directory.
func artifactDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("TRENT_TEST_ARTIFACTS")
	if d == "" {
		d = filepath.Join(os.TempDir(), "trent-console-artifacts")
	} else {
		d = filepath.Join(d, "console")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// screenshot saves the tab's full page as NAME.png in artifactDir.
func screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	name = strings.NewReplacer("/", "_", " ", "_").Replace(name)
	p := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// run runs actions with a deadline, failing the test with a screenshot
// on error.
func run(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		fail(t, ctx, what, err)
	}
}

// fail ends the test with a screenshot and the page's text.
func fail(t testing.TB, ctx context.Context, what string, err error) {
	t.Helper()
	screenshot(t, ctx, "FAILED-"+t.Name())
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
}

// get runs an action that returns a value.
func get[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		fail(t, ctx, what, err)
	}
	return v
}

// valueOf reads the value of the field sel; textOf the rendered text of
// the element sel. Both read the live DOM (after waiting for sel), so a
// page drawn again meanwhile cannot leave them a stale node.
func valueOf(sel string) chromedp.Action[string] { return readJS(sel, "value") }

func textOf(sel string) chromedp.Action[string] { return readJS(sel, "innerText") }

func readJS(sel, prop string) chromedp.Action[string] {
	return func(ctx context.Context, t *chromedp.Target) (string, error) {
		if _, err := chromedp.WaitReady(chromedp.CSS(sel))(ctx, t); err != nil {
			return "", err
		}
		b, _ := json.Marshal(sel)
		return chromedp.Evaluate[string](`(() => { const e = document.querySelector(`+string(b)+`); return e ? e.`+prop+` : '' })()`)(ctx, t)
	}
}
