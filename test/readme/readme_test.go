package readme

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// block is one fenced shell block of the README.
type block struct {
	line   int    // of the opening fence, 1-based
	code   string // the commands
	server bool   // runs in the background until the end
	expect string // the block's output must contain it
	skip   string // why it is not run ("" runs it)
}

// marker is the comment that may precede a fenced block and says how the
// test runs it.
var marker = regexp.MustCompile(`^<!--\s*readme-test:\s*(\S+)\s*(.*?)\s*-->$`)

// shellBlocks returns every fenced block of md whose language is a shell's
// (sh, bash, shell), with the marker before it, if any. A marker that is
// not followed by a shell block, or that it does not understand, is an
// error: a typo must not turn a block into one that is not run.
func shellBlocks(md string) ([]block, error) {
	var out []block
	var pending *block
	var cur *block
	var body strings.Builder
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	inFence := false
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if inFence {
			if strings.HasPrefix(trimmed, "```") {
				inFence = false
				if cur != nil {
					cur.code = body.String()
					out = append(out, *cur)
					cur = nil
				}
				continue
			}
			if cur != nil {
				body.WriteString(line + "\n")
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			inFence = true
			lang := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
			switch lang {
			case "sh", "bash", "shell":
				b := block{line: n}
				if pending != nil {
					b.server, b.expect, b.skip = pending.server, pending.expect, pending.skip
					pending = nil
				}
				cur = &b
				body.Reset()
			default:
				if pending != nil {
					return nil, fmt.Errorf("README.md:%d: a readme-test marker before a %q block, not a shell block", n, lang)
				}
			}
			continue
		}
		if m := marker.FindStringSubmatch(trimmed); m != nil {
			if pending != nil {
				return nil, fmt.Errorf("README.md:%d: two readme-test markers with no shell block between them", n)
			}
			pending = &block{}
			switch m[1] {
			case "server":
				pending.server = true
			case "expect":
				pending.expect = m[2]
			case "skip":
				pending.skip = m[2]
			default:
				return nil, fmt.Errorf("README.md:%d: unknown readme-test marker %q (server, expect TEXT, skip REASON)", n, m[1])
			}
			if (m[1] == "expect" || m[1] == "skip") && m[2] == "" {
				return nil, fmt.Errorf("README.md:%d: readme-test %s needs its text", n, m[1])
			}
			continue
		}
		if strings.HasPrefix(trimmed, "<!--") && strings.Contains(trimmed, "readme-test") {
			return nil, fmt.Errorf("README.md:%d: malformed readme-test marker %q", n, trimmed)
		}
		if pending != nil && trimmed != "" {
			return nil, fmt.Errorf("README.md:%d: a readme-test marker must come right before its block", n)
		}
	}
	if inFence {
		return nil, fmt.Errorf("README.md: unterminated code block")
	}
	if pending != nil {
		return nil, fmt.Errorf("README.md: a readme-test marker at the end, with no block")
	}
	return out, sc.Err()
}

// script writes the bash script that runs blocks in order in one shell, so
// that what a block exports or defines is there for the next, as for a
// reader typing them into one terminal (and a second one for the server).
// Each block's output goes to out.N in dir; a server block runs in the
// background, and the script waits until it prints its endpoint, then
// checks that the banner's export line works with the CLI under test.
func script(blocks []block, dir, repo string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `set -euo pipefail
ip link set lo up
SERVER_PID=
stop_server() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; }
trap stop_server EXIT
cd %q
`, repo)
	for i, bl := range blocks {
		if bl.skip != "" {
			continue
		}
		out := filepath.Join(dir, fmt.Sprintf("out.%d", i))
		fmt.Fprintf(&b, "echo %d > %q\n", i, filepath.Join(dir, "started"))
		if bl.server {
			// The reader leaves the server running in its own terminal.
			fmt.Fprintf(&b, "( %s\n) > %q 2>&1 &\nSERVER_PID=$!\n", bl.code, out)
			fmt.Fprintf(&b, `for _ in $(seq 1 6000); do
	grep -q '^  endpoint:' %[1]q && break
	kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server block exited" >&2; exit 1; }
	sleep 0.1
done
grep -q '^  endpoint:' %[1]q || { echo "the server block printed no endpoint in 10 minutes" >&2; exit 1; }
# The banner's hint, run as printed, in a shell of its own.
(
	endpoint=$(awk '$1 == "endpoint:" { print $2; exit }' %[1]q)
	hint=$(grep '^  export AWS_' %[1]q | head -n 1)
	[ -n "$hint" ] || { echo "the banner prints no export line" >&2; exit 1; }
	eval "$hint"
	aws sts get-caller-identity --endpoint-url "$endpoint" --query Arn --output text | grep -E '^arn:aws:iam::[0-9]{12}:root$'
) > %[2]q 2>&1 || { cat %[2]q >&2; echo "the banner's export line does not work with $(aws --version 2>&1)" >&2; exit 1; }
`, out, filepath.Join(dir, "banner"))
			continue
		}
		fmt.Fprintf(&b, "{\n%s} > %q 2>&1\n", bl.code, out)
		if bl.expect != "" {
			fmt.Fprintf(&b, "grep -qF -- %q %q || { echo %q >&2; exit 1; }\n", bl.expect, out,
				fmt.Sprintf("README.md:%d: the output does not contain %q", bl.line, bl.expect))
		}
	}
	fmt.Fprintf(&b, "echo done > %q\n", filepath.Join(dir, "finished"))
	return b.String()
}

// awsCLIs finds AWS CLI v2 and v1 (/usr/bin/aws, every aws on PATH) by the
// version each reports.
func awsCLIs() map[string]string {
	found := map[string]string{}
	cands := []string{"/usr/bin/aws"}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		cands = append(cands, filepath.Join(d, "aws"))
	}
	for _, p := range cands {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").CombinedOutput()
		if err != nil {
			continue
		}
		v := string(out)
		for _, major := range []string{"1", "2"} {
			if strings.HasPrefix(v, "aws-cli/"+major+".") && found[major] == "" {
				found[major] = p
			}
		}
	}
	return found
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestREADMEBlocksParse(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := shellBlocks(string(md))
	if err != nil {
		t.Fatal(err)
	}
	servers, run := 0, 0
	for _, b := range blocks {
		if b.server {
			servers++
		}
		if b.skip == "" {
			run++
		}
	}
	// Not vacuous: the walkthrough is there, with its one server.
	if servers != 1 || run < 6 {
		t.Fatalf("README.md has %d shell blocks, %d to run and %d server blocks; want one server and the walkthrough", len(blocks), run, servers)
	}
	for _, bad := range []string{
		"<!-- readme-test: srever -->\n```sh\ntrue\n```\n",
		"<!-- readme-test: expect -->\n```sh\ntrue\n```\n",
		"<!-- readme-test: skip -->\n```sh\ntrue\n```\n",
		"<!-- readme-test: server -->\n```go\nx\n```\n",
		"<!-- readme-test: server -->\ntext\n```sh\ntrue\n```\n",
		"```sh\ntrue\n",
	} {
		if _, err := shellBlocks(bad); err == nil {
			t.Errorf("shellBlocks accepted %q", bad)
		}
	}
}

// TestREADME runs every shell block of README.md, in order, against a fresh
// server, once with AWS CLI v2 and once with v1: a fresh home directory, no
// AWS or Trent variables from the environment, in a network namespace of
// its own that has only loopback (so the README's fixed port is free, and
// no command can reach the real AWS). Go's module and build caches are the
// machine's (the first build's download is not the README's to test).
func TestREADME(t *testing.T) {
	repo := repoRoot(t)
	md, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := shellBlocks(string(md))
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 || exec.Command("unshare", "--net", "true").Run() != nil {
		testenv.Missing(t, testenv.Root, "the README test runs its server in a network namespace of its own (unshare --net), which needs root")
	}
	clis := awsCLIs()
	goEnv := map[string]string{}
	for _, k := range []string{"GOPATH", "GOCACHE", "GOMODCACHE", "GOROOT"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		goEnv[k] = strings.TrimSpace(string(out))
	}
	// The walkthrough builds trent inside the namespace, offline: fetch
	// what it needs first.
	build := exec.Command("go", "build", "-o", os.DevNull, "./cmd/trent")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/trent: %v\n%s", err, out)
	}
	for _, v := range []struct{ name, major string }{{"awscli-v2", "2"}, {"awscli-v1", "1"}} {
		t.Run("ok/"+v.name, func(t *testing.T) {
			cli := clis[v.major]
			if cli == "" {
				testenv.Missing(t, testenv.AWSCLI, "AWS CLI v"+v.major+" is not installed (v2: apt-get install awscli; v1: pip install awscli)")
			}
			runREADME(t, repo, blocks, cli, goEnv)
		})
	}
}

func runREADME(t *testing.T, repo string, blocks []block, cli string, goEnv map[string]string) {
	home, dir, bin := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.Symlink(cli, filepath.Join(bin, "aws")); err != nil {
		t.Fatal(err)
	}
	path := bin + string(os.PathListSeparator) + filepath.Join(goEnv["GOROOT"], "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	env := []string{"HOME=" + home, "PATH=" + path, "LANG=C.UTF-8", "AWS_PAGER=", "GOTOOLCHAIN=local",
		"GOFLAGS=-mod=mod", "GOPROXY=off"}
	for k, v := range goEnv {
		env = append(env, k+"="+v)
	}
	// pyenv's shims find their Python under PYENV_ROOT (by default in the
	// home directory the test replaces).
	pyenv := os.Getenv("PYENV_ROOT")
	if pyenv == "" {
		if h, err := os.UserHomeDir(); err == nil {
			pyenv = filepath.Join(h, ".pyenv")
		}
	}
	env = append(env, "PYENV_ROOT="+pyenv)
	sh := filepath.Join(dir, "readme.sh")
	if err := os.WriteFile(sh, []byte(script(blocks, dir, repo)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "bash", sh)
	cmd.Env = env
	cmd.Dir = home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	// Whatever the script left behind (a server it could not stop).
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	started, _ := os.ReadFile(filepath.Join(dir, "started"))
	last := strings.TrimSpace(string(started))
	for i, bl := range blocks {
		o, rerr := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out.%d", i)))
		if rerr != nil {
			continue
		}
		t.Logf("README.md:%d:\n%s--- output:\n%s", bl.line, bl.code, o)
		if fmt.Sprint(i) == last && err != nil {
			t.Errorf("README.md:%d: the block failed", bl.line)
		}
	}
	if b, rerr := os.ReadFile(filepath.Join(dir, "banner")); rerr == nil {
		t.Logf("the banner's export line, with %s: %s", cli, b)
	}
	if err != nil {
		t.Fatalf("the README's shell blocks failed with %s: %v\n%s", cli, err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "finished")); err != nil {
		t.Fatalf("the script did not reach its end\n%s", out)
	}
}
