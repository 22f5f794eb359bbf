package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/rootkey"
)

// TestAuditSigningKeyFile: a start whose sealed audit signing key file is
// missing, damaged or holds another key than the one that signed the trail
// is refused, naming the file and the key, and leaves the file alone;
// with ReplaceAuditSigningKey it starts and the trail records the
// replacement, once.
func TestAuditSigningKeyFile(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	rootFile := filepath.Join(t.TempDir(), "root.key")
	keyFile := filepath.Join(data, audit.SigningKeyFile)
	cfg := func() *config.File {
		return &config.File{Listen: "127.0.0.1:0", DataDir: data, RootKey: config.RootKeyFile{File: rootFile}}
	}
	start := func(replace bool) (*Node, error) {
		return Start(cfg(), Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}, ReplaceAuditSigningKey: replace})
	}
	// run starts a node, checks its signing key, and stops it.
	run := func(replace bool, wantKey ed25519.PublicKey) ed25519.PublicKey {
		t.Helper()
		n, err := start(replace)
		if err != nil {
			t.Fatalf("start (replace %v): %v", replace, err)
		}
		pub := n.Audit.PublicKey()
		n.Shutdown(context.Background())
		if wantKey != nil && !pub.Equal(wantKey) {
			t.Fatalf("signing key %s, want %s", audit.KeyID(pub), audit.KeyID(wantKey))
		}
		return pub
	}
	replacements := func() int {
		t.Helper()
		n := 0
		if err := audit.Read(filepath.Join(data, "audit"), audit.Filter{EventName: audit.EventSigningKeyReplaced}, func(audit.Entry) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	refused := func(name string, want ...string) {
		t.Helper()
		before, _ := os.ReadFile(keyFile)
		_, statErr := os.Stat(keyFile)
		n, err := start(false)
		if err == nil {
			n.Shutdown(context.Background())
			t.Fatalf("%s: the node started", name)
		}
		for _, w := range append(want, keyFile, "--replace-audit-signing-key", "backup") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q: %v", name, w, err)
			}
		}
		after, _ := os.ReadFile(keyFile)
		if _, err := os.Stat(keyFile); (err == nil) != (statErr == nil) || !bytes.Equal(before, after) {
			t.Errorf("%s: the refused start changed %s", name, keyFile)
		}
	}

	// fail/damaged before anything was signed: never replaced silently
	// either.
	os.WriteFile(keyFile, []byte("damaged"), 0o600)
	refused("damaged, new trail", "cannot be unsealed", `It must hold node "node1"'s signing key`)
	os.Remove(keyFile)
	first := run(false, nil)
	os.WriteFile(keyFile, []byte("damaged"), 0o600)
	refused("damaged", "cannot be unsealed", "It must hold key "+audit.KeyID(first))
	os.Remove(keyFile)
	refused("missing", "is missing", "It must hold key "+audit.KeyID(first))

	root, err := rootkey.OpenFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	other := otherPriv.Public().(ed25519.PublicKey)
	sealed, err := root.Seal(otherPriv.Seed(), audit.SigningKeyAAD)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(keyFile, sealed, 0o600)
	refused("other key", "holds key "+audit.KeyID(other), "It must hold key "+audit.KeyID(first))
	if replacements() != 0 {
		t.Fatal("a refused start recorded a replacement")
	}

	// ok/replace: another key sealed under this root key is adopted.
	run(true, other)
	if replacements() != 1 {
		t.Fatalf("%d replacements recorded, want 1", replacements())
	}
	// ok/once: without the flag, and with it when there is nothing to
	// replace, the node starts on the same key and records nothing.
	run(false, other)
	run(true, other)
	if replacements() != 1 {
		t.Fatalf("%d replacements recorded after later starts, want 1", replacements())
	}

	// ok/replace a damaged file: kept aside, a new key made.
	damaged := append(bytes.Clone(sealed[:len(sealed)-1]), sealed[len(sealed)-1]^1)
	os.WriteFile(keyFile, damaged, 0o600)
	third := run(true, nil)
	if third.Equal(other) || third.Equal(first) {
		t.Fatal("the damaged file's key was reused")
	}
	aside, _ := filepath.Glob(keyFile + ".unusable-*")
	if len(aside) != 1 {
		t.Fatalf("damaged file kept aside: %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); !bytes.Equal(b, damaged) {
		t.Fatal("the file kept aside is not the damaged one")
	}
	if replacements() != 2 {
		t.Fatalf("%d replacements recorded, want 2", replacements())
	}
	rep, err := audit.Verify(filepath.Join(data, "audit"), audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{first, other, third}, RequireDigests: true})
	if err != nil || !rep.OK() {
		t.Fatalf("verify with the three keys: %v %+v", err, rep)
	}
}
