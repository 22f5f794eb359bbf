package security

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Red team (rt-rest): start-up refuses what would silently not do what the
// operator wrote, and what would serve calls that no record shows.

// TestOddConfigFiles: a configuration file whose only document is
// "---", "null" or "~" holds no settings, like an empty file; settings in
// a second YAML document would be ignored without a word (here: the
// second document moves the listener and accepts a root key in the data
// directory). Each is refused with a message naming the file; a trailing
// empty document is harmless and accepted.
func TestOddConfigFiles(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, content string) string {
		f := filepath.Join(t.TempDir(), "trent.yaml")
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for name, c := range map[string]struct{ content, want string }{
		"only ---":          {"---\n", "is empty"},
		"null":              {"null\n", "is empty"},
		"tilde":             {"~\n", "is empty"},
		"second document":   {"version: 1\n---\nlisten: 0.0.0.0:4599\nroot_key:\n  allow_in_data_dir: true\n", "second YAML document"},
		"third document":    {"version: 1\n---\n---\naudit:\n  min_free_mib: 1024\n", "second YAML document"},
		"unknown field":     {"version: 1\naudit:\n  disable: true\n", "field disable not found"},
		"duplicate setting": {"version: 1\nlisten: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", "already defined"},
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			t.Parallel()
			f := write(t, c.content)
			s := Start(t, Opts{Args: []string{"--config", f}, ExpectFail: true})
			atrestRefused(t, s, f, c.want)
		})
	}
	t.Run("ok/trailing empty document", func(t *testing.T) {
		t.Parallel()
		s := Start(t, Opts{Args: []string{"--config", write(t, "version: 1\n---\n")}})
		if r := s.Call(t, Admin, "ListKeys", nil); r.Status != http.StatusOK {
			t.Fatalf("ListKeys: %d %s", r.Status, r.Body)
		}
	})
}

// TestAuditDisabledOnAuditedStore: `audit: {disabled: true}` on a
// data directory that has an audit trail served calls with no record, and
// the trail, restarted afterwards, verified as complete through the
// unaudited period (a clean shutdown digest allows any pause). A store
// that has been audited must not be served without a trail.
func TestAuditDisabledOnAuditedStore(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := Start(t, Opts{DataDir: data})
	pub := trustedPublicKey(t, filepath.Join(data, "audit"))
	s.CreateKey(t, Admin, nil)
	s.Stop(t)

	off := filepath.Join(t.TempDir(), "trent.yaml")
	if err := os.WriteFile(off, []byte("version: 1\naudit:\n  disabled: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, Args: []string{"--config", off}, ExpectFail: true})
	if err, ok := u.Exited(time.Second); !ok || err == nil {
		// It served: show what that means for the trail.
		unrecorded := u.CreateKey(t, Admin, nil)
		u.Stop(t)
		again := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome})
		again.Stop(t)
		out, verr := Trent(t, nil, "audit", "verify", "--data-dir", data, "--public-key", pub, "--require-digests")
		t.Fatalf("a server started without an audit trail on an audited store and created key %s unrecorded; verify afterwards: %v\n%s", unrecorded, verr, out)
	}
	atrestRefused(t, u, "audit.disabled", "audited")
	// The refusal changed nothing: the audited server still starts.
	a := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome})
	if r := a.Call(t, Admin, "ListKeys", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "KeyId") {
		t.Fatalf("ListKeys: %d %s", r.Status, r.Body)
	}
}
