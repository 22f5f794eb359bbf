package security

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Start-up refusals (issue 15, item 8): a node that cannot work refuses to
// start, loudly, instead of starting and failing every request.

// atrestBanner waits for the banner line that re matches (Start returns at
// the endpoint line, before the rest of the banner is read) and returns
// its submatches.
func atrestBanner(t testing.TB, s *Server, re string) []string {
	t.Helper()
	var m []string
	WaitFor(t, 5*time.Second, func() error {
		if m = regexp.MustCompile(re).FindStringSubmatch(s.Output()); m == nil {
			return fmt.Errorf("no %q in the banner:\n%s", re, s.Output())
		}
		return nil
	})
	return m
}

// atrestRootKeyID is the root key ID a server printed in its banner.
func atrestRootKeyID(t testing.TB, s *Server) string {
	t.Helper()
	return atrestBanner(t, s, `root key:\s+(\S+)`)[1]
}

// atrestRefused checks that a server started with ExpectFail exited with a
// non-zero status and printed every one of want.
func atrestRefused(t testing.TB, s *Server, want ...string) {
	t.Helper()
	err, ok := s.Exited(10 * time.Second)
	if !ok || err == nil {
		t.Fatalf("trent serve did not fail (exit %v); output:\n%s", err, s.Output())
	}
	if s.Endpoint != "" || strings.Contains(s.Output(), "endpoint:") {
		t.Fatalf("trent serve served before exiting:\n%s", s.Output())
	}
	for _, w := range want {
		if !strings.Contains(s.Output(), w) {
			t.Errorf("output lacks %q:\n%s", w, s.Output())
		}
	}
}

// TestStartupSecondProcessRefused: a second `trent serve` on a data
// directory in use is refused whatever its --node-id, names the process
// holding it, and leaves the first one serving; a killed holder leaves no
// stale lock.
func TestStartupSecondProcessRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1 := Start(t, Opts{DataDir: dir})
	for _, node := range []string{"node1", "node2"} {
		s2 := Start(t, Opts{DataDir: dir, RootKeyHex: s1.RootKeyHex, ConfigHome: s1.ConfigHome,
			Args: []string{"--node-id", node}, ExpectFail: true})
		atrestRefused(t, s2, "data directory "+dir+" is in use", "PID "+strconv.Itoa(s1.PID()))
	}
	// The same SQLite database through --store from another data directory.
	db := filepath.Join(t.TempDir(), "shared.db")
	s3 := Start(t, Opts{Args: []string{"--store", "sqlite:" + db}})
	s4 := Start(t, Opts{RootKeyHex: s3.RootKeyHex, Args: []string{"--store", "sqlite:" + db, "--node-id", "other"}, ExpectFail: true})
	atrestRefused(t, s4, "is in use", "PID "+strconv.Itoa(s3.PID()), db+".lock")

	if !s1.Alive() {
		t.Fatalf("the first server died:\n%s", s1.Output())
	}
	s1.CreateKey(t, Admin, nil)
	// SIGKILL: the kernel drops the lock with the process.
	s1.Kill()
	s5 := Start(t, Opts{DataDir: dir, RootKeyHex: s1.RootKeyHex, ConfigHome: s1.ConfigHome, Args: []string{"--node-id", "node2"}})
	s5.CreateKey(t, Admin, nil)
}

// TestStartupRootKeyMismatch: a node whose root key cannot unseal what the
// store holds refuses to start and names the root key it has and the one
// the store needs; so does `trent admin`. Today's alternative, starting and
// answering KMSInternalException to every request, is what this prevents.
func TestStartupRootKeyMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := Start(t, Opts{DataDir: dir})
	need := atrestRootKeyID(t, a)
	a.CreateKey(t, Admin, nil)
	a.Stop(t)
	// Learn the other key's ID from a server of its own.
	other := randHex(32)
	b := Start(t, Opts{RootKeyHex: other})
	have := atrestRootKeyID(t, b)
	b.Stop(t)
	if have == need || !strings.HasPrefix(need, "file-") {
		t.Fatalf("root key IDs %q and %q", need, have)
	}
	s := Start(t, Opts{DataDir: dir, RootKeyHex: other, ExpectFail: true})
	atrestRefused(t, s, "root key mismatch", "the store needs root key "+need, "this node has root key(s) "+have)
	if strings.Contains(s.Output(), other) || strings.Contains(s.Output(), a.RootKeyHex) {
		t.Fatal("a root key is in the output")
	}
	out, err := Trent(t, []string{"TRENT_ROOT_KEY=" + other, "XDG_CONFIG_HOME=" + t.TempDir()},
		"admin", "create-access-key", "--data-dir", dir, "--account-id", account)
	if err == nil || !strings.Contains(out, "root key mismatch") || !strings.Contains(out, need) || strings.Contains(out, "aws_secret_access_key") {
		t.Fatalf("admin with another root key: %v\n%s", err, out)
	}
	// The right key still works: the refusal changed nothing.
	ok := Start(t, Opts{DataDir: dir, RootKeyHex: a.RootKeyHex})
	if r := ok.Call(t, Admin, "ListKeys", nil); r.Status != http.StatusOK {
		t.Fatalf("ListKeys with the right root key: %d %s", r.Status, r.Body)
	}
}

// TestStartupEmptyConfig: an empty configuration file (or one with only
// comments) gets a message that says so and names the file, not "EOF".
func TestStartupEmptyConfig(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{"empty": "", "comments": "# nothing yet\n\n"} {
		t.Run("fail/"+name, func(t *testing.T) {
			t.Parallel()
			f := filepath.Join(t.TempDir(), "trent.yaml")
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := Start(t, Opts{Args: []string{"--config", f}, ExpectFail: true})
			atrestRefused(t, s, fmt.Sprintf("config: %s is empty", f), "version: 1")
			if strings.HasSuffix(strings.TrimSpace(s.Output()), "EOF") {
				t.Fatalf("bare EOF:\n%s", s.Output())
			}
			out, err := Trent(t, nil, "admin", "list-accounts", "--config", f)
			if err == nil || !strings.Contains(out, f+" is empty") {
				t.Fatalf("admin --config: %v\n%s", err, out)
			}
		})
	}
	// ok/version-only: the smallest valid file starts.
	f := filepath.Join(t.TempDir(), "trent.yaml")
	os.WriteFile(f, []byte("version: 1\n"), 0o600)
	s := Start(t, Opts{Args: []string{"--config", f}})
	WaitFor(t, 5*time.Second, func() error {
		if r := s.Call(t, Admin, "ListKeys", nil); r.Status != http.StatusOK {
			return fmt.Errorf("ListKeys: %d", r.Status)
		}
		return nil
	})
}
