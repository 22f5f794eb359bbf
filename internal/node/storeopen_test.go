package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/rootkey"
)

// TestOpenExisting: the commands that read an installation (audit verify,
// backup, restore's root key) neither create a database nor a key file
// where there is none, and OpenRootKey finds the key as serve does.
func TestOpenExisting(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	data := filepath.Join(base, "data")
	keyFile := filepath.Join(base, "keys", "root.key")
	cfg := &config.File{DataDir: data, RootKey: config.RootKeyFile{File: keyFile}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(data, 0o700)

	t.Run("fail/no-database", func(t *testing.T) {
		_, err := OpenExistingStore(cfg)
		if err == nil || !strings.Contains(err.Error(), "has no store at "+filepath.Join(data, "trent.db")) {
			t.Fatalf("error %v", err)
		}
		if _, err := os.Stat(filepath.Join(data, "trent.db")); err == nil {
			t.Fatal("OpenExistingStore created a database")
		}
	})
	t.Run("fail/postgres-url-not-echoed", func(t *testing.T) {
		_, err := OpenPostgres("postgress://u:secret-password@db/x")
		if err == nil || strings.Contains(err.Error(), "secret-password") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("fail/no-key-file", func(t *testing.T) {
		_, _, err := OpenRootKey(cfg, config.Env{})
		if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "trent root-key recover") {
			t.Fatalf("error %v", err)
		}
		if _, err := os.Stat(keyFile); err == nil {
			t.Fatal("OpenRootKey created a key file")
		}
	})
	t.Run("ok/key-file", func(t *testing.T) {
		p, err := rootkey.CreateFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		want := p.CurrentID()
		p.Close()
		root, source, err := OpenRootKey(cfg, config.Env{})
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if source != keyFile || root.CurrentID() != want {
			t.Fatalf("source %s key %s, want %s %s", source, root.CurrentID(), keyFile, want)
		}
	})
	t.Run("ok/TRENT_ROOT_KEY", func(t *testing.T) {
		root, source, err := OpenRootKey(cfg, config.Env{RootKey: strings.Repeat("5a", 32)})
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if source != "TRENT_ROOT_KEY" {
			t.Fatalf("source %s", source)
		}
	})
}
