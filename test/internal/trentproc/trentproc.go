package trentproc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildMu   sync.Mutex
	buildDir  string
	buildBins = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Build builds cmd/trent with the given build tags (for example
// "trenttest", which compiles in the TRENT_TEST_* hooks) once per test
// binary and returns the path of the executable. A failed build fails t,
// and every later call with the same tags fails the same way. The
// binaries live in a temporary directory that Main removes.
func Build(t testing.TB, tags ...string) string {
	t.Helper()
	tags = slices.Sorted(slices.Values(tags))
	key := strings.Join(tags, ",")
	buildMu.Lock()
	b := buildBins[key]
	if b == nil {
		b = &build{}
		buildBins[key] = b
	}
	buildMu.Unlock()
	b.once.Do(func() {
		dir, err := binDir()
		if err != nil {
			b.err = err
			return
		}
		name := "trent"
		if key != "" {
			name += "-" + strings.ReplaceAll(key, ",", "-")
		}
		b.path = filepath.Join(dir, name)
		args := []string{"build"}
		if key != "" {
			args = append(args, "-tags", key)
		}
		args = append(args, "-o", b.path, "github.com/trentkms/trent/cmd/trent")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func binDir() (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		d, err := os.MkdirTemp("", "trent-test-bin-")
		if err != nil {
			return "", err
		}
		buildDir = d
	}
	return buildDir, nil
}

// Main runs the tests of m, removes the binaries Build made and exits with
// the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	buildMu.Lock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	buildMu.Unlock()
	os.Exit(code)
}

// Environ returns the environment of the test process without the
// variables through which a developer's own trent setup would leak into the
// child (TRENT_ACCESS_KEY_ID, TRENT_SECRET_ACCESS_KEY, TRENT_ROOT_KEY,
// XDG_CONFIG_HOME, XDG_DATA_HOME, HOME) and without any variable named in
// set, followed by set (KEY=VALUE entries) in order.
func Environ(set ...string) []string {
	drop := map[string]bool{"TRENT_ACCESS_KEY_ID": true, "TRENT_SECRET_ACCESS_KEY": true, "TRENT_ROOT_KEY": true,
		"XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true, "HOME": true}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env, set...)
}

// Until says when Start returns.
type Until int

const (
	// UntilEndpoint waits for the "endpoint: URL" line (the default).
	UntilEndpoint Until = iota
	// UntilExit waits for the process to exit, for a test of a refusal
	// to start.
	UntilExit
	// UntilStarted returns as soon as the process runs; the caller polls
	// for readiness itself.
	UntilStarted
)

// Options describe a child process.
type Options struct {
	// Path is the executable, usually from Build.
	Path string
	// Args are its arguments, without the program name.
	Args []string
	// Env is its whole environment (see Environ); nil means the test
	// process's environment.
	Env []string
	// Log, if set, also receives everything the process prints.
	Log io.Writer
	// Until says when Start returns; Timeout bounds that wait (default
	// 60 s) and a process that misses it fails the test.
	Until   Until
	Timeout time.Duration
}

// Process is a running (or exited) child started by Start.
type Process struct {
	// Endpoint is the URL the process printed; "" unless Start waited
	// UntilEndpoint.
	Endpoint string

	cmd     *exec.Cmd
	out     lockedBuffer
	exited  chan struct{}
	exitErr error // set before exited is closed
}

// lockedBuffer collects a child's output from two pipes.
type lockedBuffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	log io.Writer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.log != nil {
		l.log.Write(p)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs o.Path with o.Args and waits as o.Until says. It fails t if
// the process cannot start, exits before printing its endpoint, misses
// o.Timeout, or prints an endpoint that is not on 127.0.0.1. The process
// is killed and reaped when t ends.
func Start(t testing.TB, o Options) *Process {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	cmd := exec.Command(o.Path, o.Args...)
	cmd.Env = o.Env
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	p.out.log = o.Log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.out.Write([]byte(line + "\n"))
			if f := strings.Fields(line); len(f) == 2 && f[0] == "endpoint:" {
				select {
				case found <- f[1]:
				default:
				}
			}
		}
		// A line too long for the scanner must not block the child.
		io.Copy(&p.out, stdout)
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.Kill)
	switch o.Until {
	case UntilExit:
		if _, ok := p.Exited(o.Timeout); !ok {
			t.Fatalf("%s did not exit within %v; output:\n%s", o.Path, o.Timeout, p.Output())
		}
	case UntilEndpoint:
		select {
		case p.Endpoint = <-found:
		case <-p.exited:
			t.Fatalf("%s exited (%v) before serving; output:\n%s", o.Path, p.exitErr, p.Output())
		case <-time.After(o.Timeout):
			t.Fatalf("%s did not print its endpoint within %v; output:\n%s", o.Path, o.Timeout, p.Output())
		}
		if !strings.HasPrefix(p.Endpoint, "http://127.0.0.1:") && !strings.HasPrefix(p.Endpoint, "https://127.0.0.1:") {
			t.Fatalf("endpoint %q is not loopback", p.Endpoint)
		}
	}
	return p
}

// Output is everything the process printed so far (stdout and stderr).
func (p *Process) Output() string { return p.out.String() }

// PID is the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Exited waits up to d for the process to exit and returns its error (nil
// for exit status 0, an *exec.ExitError otherwise); ok is false if it is
// still running.
func (p *Process) Exited(d time.Duration) (err error, ok bool) {
	// First without the timer: with d = 0 both cases of the select below
	// may be ready, and select picks one at random.
	select {
	case <-p.exited:
		return p.exitErr, true
	default:
	}
	select {
	case <-p.exited:
		return p.exitErr, true
	case <-time.After(d):
		return nil, false
	}
}

// Signal sends sig to a running process; it does nothing once the
// process has exited.
func (p *Process) Signal(sig os.Signal) error {
	if !p.Alive() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to be reaped.
func (p *Process) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.exited
}

// Terminate sends SIGTERM and waits up to d for the process to exit, as
// Exited does. It does not kill a process that outlives d.
func (p *Process) Terminate(d time.Duration) (err error, ok bool) {
	p.Signal(syscall.SIGTERM)
	return p.Exited(d)
}

// Stop sends SIGTERM and fails t unless the process exits cleanly within
// d. It does nothing if the process has already exited.
func (p *Process) Stop(t testing.TB, d time.Duration) {
	t.Helper()
	if !p.Alive() {
		return
	}
	if err, ok := p.Terminate(d); !ok {
		t.Fatalf("%s did not stop on SIGTERM within %v; output:\n%s", p.cmd.Path, d, p.Output())
	} else if err != nil {
		t.Fatalf("%s exited with %v after SIGTERM; output:\n%s", p.cmd.Path, err, p.Output())
	}
}
