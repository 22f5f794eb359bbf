package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/store"
)

// TestRootKeyFileResolution: the one resolution of the key file refuses
// every way of putting it inside the state a copy would carry.
func TestRootKeyFileResolution(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	data := filepath.Join(base, "data")
	os.MkdirAll(data, 0o700)
	link := filepath.Join(base, "link-to-data")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(base, "audit")
	for _, tc := range []struct {
		name string
		file string
		cfg  func(*config.File)
		want string // substring of the error; "" for success
	}{
		{"ok/outside", filepath.Join(base, "keys", "root.key"), nil, ""},
		{"ok/sibling-prefix", data + "-keys/root.key", nil, ""},
		{"fail/in-data-dir", filepath.Join(data, "root.key"), nil, "inside the data directory"},
		{"fail/in-subdir", filepath.Join(data, "x", "y.key"), nil, "inside the data directory"},
		{"fail/dotdot", filepath.Join(base, "other", "..", "data", "k"), nil, "inside the data directory"},
		{"fail/through-symlink", filepath.Join(link, "k"), nil, "inside the data directory"},
		{"fail/in-audit-dir", filepath.Join(audit, "k"), func(c *config.File) { c.Audit.Dir = audit }, "inside the audit directory"},
		{"fail/beside-sqlite", filepath.Join(base, "db", "k"), func(c *config.File) { c.Store = "sqlite:" + filepath.Join(base, "db", "t.db") }, "directory of the database"},
		{"ok/allowed", filepath.Join(data, "root.key"), func(c *config.File) { c.RootKey.AllowInDataDir = true }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.File{DataDir: data, RootKey: config.RootKeyFile{File: tc.file}}
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			_, err := rootKeyFile(cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "trent root-key move") {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// fail/legacy: DATA_DIR/root.key with no root_key.file names the fix.
	os.WriteFile(config.LegacyRootKeyFile(data), []byte("x"), 0o600)
	cfg := &config.File{DataDir: data}
	cfg.Validate()
	if _, err := rootKeyFile(cfg); err == nil || !strings.Contains(err.Error(), "trent root-key move --data-dir "+data) {
		t.Fatalf("legacy key file: %v", err)
	}
	cfg.RootKey.AllowInDataDir = true
	if p, err := rootKeyFile(cfg); err != nil || p != config.LegacyRootKeyFile(data) {
		t.Fatalf("legacy key file, allowed: %q %v", p, err)
	}
}

// TestRootKeyCanaryUpgrade: a store written before canaries is checked
// through the administrator's sealed secret, then gets its canary.
func TestRootKeyCanaryUpgrade(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "root.key")
	cfg := func() *config.File {
		return &config.File{Listen: "127.0.0.1:0", DataDir: dir, RootKey: config.RootKeyFile{File: key}}
	}
	n, err := Start(cfg(), Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
	if err != nil {
		t.Fatal(err)
	}
	dropCanary := func() {
		t.Helper()
		if err := n.Store.Apply(context.Background(), store.Op{Kind: reseal.CanaryKind, ID: "canary", Delete: true}); err != nil {
			t.Fatal(err)
		}
	}
	dropCanary()
	n.Shutdown(context.Background())

	// fail/other key: named through the administrator's secret.
	other := strings.Repeat("ab", 32)
	_, err = Start(cfg(), Options{Env: config.Env{RootKey: other}})
	var me *reseal.MismatchError
	if !errors.As(err, &me) || me.What != "administrator access key" || !strings.HasPrefix(me.Need, "file-") {
		t.Fatalf("old store, other key: %v", err)
	}
	// ok/same key: starts and records the canary.
	if n, err = Start(cfg(), Options{}); err != nil {
		t.Fatal(err)
	}
	if need, err := reseal.CanaryNeeds(context.Background(), n.Store); err != nil || need != n.Root.CurrentID() {
		t.Fatalf("canary after upgrade: %q %v", need, err)
	}
	dropCanary()
	n.Shutdown(context.Background())
	// fail/missing key file: a sealed store never gets a new key.
	os.Rename(key, key+".away")
	if _, err := Start(cfg(), Options{}); err == nil || !strings.Contains(err.Error(), "does not exist, but the store was sealed under root key "+me.Need) {
		t.Fatalf("missing key file: %v", err)
	}
	if _, err := os.Stat(key); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a new key file was made: %v", err)
	}
}

// TestRootKeyStrayFile: a root.key left in the data directory is refused
// while the key comes from elsewhere, unless explicitly allowed.
func TestRootKeyStrayFile(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	os.WriteFile(config.LegacyRootKeyFile(data), []byte("x"), 0o600)
	cfg := &config.File{DataDir: data, RootKey: config.RootKeyFile{File: filepath.Join(t.TempDir(), "root.key")}}
	cfg.Validate()
	if _, err := rootKeyFile(cfg); err == nil || !strings.Contains(err.Error(), "although this node's root key comes from "+cfg.RootKey.File) {
		t.Fatalf("explicit key file elsewhere: %v", err)
	}
	_, _, err := openRoot(context.Background(), cfg, nil, rootOptions{hex: strings.Repeat("01", 32)})
	if err == nil || !strings.Contains(err.Error(), "comes from TRENT_ROOT_KEY") {
		t.Fatalf("TRENT_ROOT_KEY: %v", err)
	}
	cfg.RootKey.AllowInDataDir = true
	if _, err := rootKeyFile(cfg); err != nil {
		t.Fatalf("allowed: %v", err)
	}
}
