package security

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/test/internal/trentproc"
)

// redCUnderHosts runs `trent serve args...` in a user and mount namespace
// whose /etc/hosts is hosts (no privilege needed: unshare -rm), and returns
// its combined output once it exits or prints its endpoint (it is killed
// then, or after 20 s). The test is
// skipped where such namespaces are not allowed.
func redCUnderHosts(t *testing.T, hosts string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed")
	}
	dir := t.TempDir()
	hostsFile := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsFile, []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	const wrap = `mount --bind "$HOSTS_FILE" /etc/hosts && exec "$0" "$@"`
	probe := exec.Command("unshare", "-rm", "sh", "-c", wrap, "true")
	probe.Env = append(os.Environ(), "HOSTS_FILE="+hostsFile)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("no unprivileged user and mount namespaces here: %v %s", err, out)
	}
	home := t.TempDir()
	p := trentproc.Start(t, trentproc.Options{Path: "unshare",
		Args: append([]string{"-rm", "sh", "-c", wrap, trentBinary(t), "serve", "--data-dir", t.TempDir(), "--metrics-listen", "off"}, args...),
		Env: append(os.Environ(), "HOSTS_FILE="+hostsFile, "TRENT_ROOT_KEY="+randHex(32), "TRENT_ACCESS_KEY_ID="+adminAKID,
			"TRENT_SECRET_ACCESS_KEY="+adminSecret, "XDG_CONFIG_HOME="+home, "HOME="+home),
		Until: trentproc.UntilStarted})
	deadline := time.After(20 * time.Second)
	for !strings.Contains(p.Output(), "endpoint:") {
		if _, ok := p.Exited(0); ok {
			return p.Output()
		}
		select {
		case <-deadline:
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	p.Kill()
	return p.Output()
}

// TestRedCLocalhostElsewhere: "localhost" passes the loopback check of
// --dev and of plain HTTP by its name. Where the hosts file (or the
// resolver, in a container without an entry) maps localhost to another
// address, the server listened there: the development clock and plain
// HTTP (SigV4 signatures, ciphertexts and plaintexts in the clear) on the
// network. The address is TEST-NET-2 (not this host's), so that before the
// fix the bind failed instead of serving on the network. Now the name is
// resolved once, refused unless it names a loopback address, and the
// listener opens that address.
func TestRedCLocalhostElsewhere(t *testing.T) {
	const hosts = "198.51.100.7 localhost\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dev", "--listen", "localhost:0"}, "refusing --dev on non-loopback address localhost:0: localhost resolves to 198.51.100.7"},
		{[]string{"--listen", "localhost:0"}, "refusing to serve plain HTTP on non-loopback address localhost:0: localhost resolves to 198.51.100.7"},
	} {
		out := redCUnderHosts(t, hosts, c.args...)
		if !strings.Contains(out, c.want) || strings.Contains(out, "endpoint:") {
			t.Errorf("trent serve %v with localhost at 198.51.100.7: want the start refused with %q; output:\n%s", c.args, c.want, out)
		}
	}
	// localhost at a loopback address: served there, by its address.
	out := redCUnderHosts(t, "127.0.0.1 localhost\n", "--dev", "--listen", "localhost:0")
	if !strings.Contains(out, "endpoint:    http://127.0.0.1:") {
		t.Errorf("--dev on localhost (127.0.0.1) did not serve on 127.0.0.1; output:\n%s", out)
	}
}
