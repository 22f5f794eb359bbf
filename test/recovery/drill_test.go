package recovery

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/rootkey"
)

// escrowed is a root key split by `trent root-key escrow`: where the
// shares went, and the custodians' age identity files, one per share.
type escrowed struct {
	id         string // the root key ID the shares rebuild
	shares     string // the directory of share-I-of-5.age
	identities []string
}

// escrowRootKey splits in's root key into 5 shares, any 3 of which rebuild
// it, right after the first start, into a directory apart from the data
// directory and the backups. Every share is age-encrypted to its own
// custodian, made here: shares 1, 2 and 4 to post-quantum hybrid
// recipients (age1pq1...), 3 and 5 to X25519 ones.
func escrowRootKey(t *testing.T, in install) escrowed {
	t.Helper()
	dir := t.TempDir()
	e := escrowed{shares: filepath.Join(dir, "shares")}
	args := []string{"root-key", "escrow", "--shares", "5", "--threshold", "3", "--out", e.shares, "--root-key-file", in.KeyFile}
	for i := 1; i <= 5; i++ {
		var id interface{ String() string }
		var rcpt string
		if i == 3 || i == 5 {
			x, err := age.GenerateX25519Identity()
			if err != nil {
				t.Fatal(err)
			}
			id, rcpt = x, x.Recipient().String()
		} else {
			pq, err := age.GenerateHybridIdentity()
			if err != nil {
				t.Fatal(err)
			}
			id, rcpt = pq, pq.Recipient().String()
			if !strings.HasPrefix(rcpt, "age1pq1") {
				t.Fatalf("hybrid recipient %.12s...", rcpt)
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("custodian-%d.key", i))
		if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		e.identities = append(e.identities, p)
		args = append(args, "--recipient", rcpt)
	}
	keys, err := rootkey.ReadKeyFile(in.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	e.id = keys[len(keys)-1].ID
	out := mustTrent(t, in, args...)
	if !strings.Contains(out, "root key "+e.id) || !strings.Contains(out, "any 3 of which rebuild it") {
		t.Fatalf("root-key escrow: %s", out)
	}
	for _, k := range keys {
		if dirHoldsBytes(t, e.shares, k.Secret) {
			t.Fatal("a share holds the root key")
		}
		clear(k.Secret)
	}
	return e
}

// rebuildRootKey rebuilds in's root key, lost with the machine, from 3 of
// the 5 escrow shares (2 hybrid-encrypted, 1 X25519-encrypted) with their
// custodians' identities, at a new place, and returns that key file.
func rebuildRootKey(t *testing.T, in install, e escrowed) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rebuilt", "root.key")
	args := []string{"root-key", "recover", "--out", path}
	for _, i := range []int{1, 4, 5} {
		args = append(args, "--identity", e.identities[i-1], "--share", filepath.Join(e.shares, fmt.Sprintf("share-%d-of-5.age", i)))
	}
	out := mustTrent(t, in, args...)
	if !strings.Contains(out, "root key "+e.id+" rebuilt from 3 shares") {
		t.Fatalf("root-key recover: %s", out)
	}
	return path
}

// TestRecoveryDrill: the machine's data directory is lost; a backup taken
// while clients wrote restores everything acknowledged before it, and the
// audit trail verifies across the restore.
func TestRecoveryDrill(t *testing.T) {
	in := newInstall(t)
	os.MkdirAll(filepath.Dir(in.KeyFile), 0o700)
	s := serve(t, in)
	shares := escrowRootKey(t, in)
	pop := populate(t, s)

	// Back up while a load generator writes.
	lg := startLoad(t, s, pop.sealed[0].key)
	time.Sleep(300 * time.Millisecond)
	backupDir := filepath.Join(t.TempDir(), "backup-1")
	began := time.Now()
	out := mustTrent(t, in, append([]string{"backup", "--out", backupDir}, in.dirArgs()...)...)
	time.Sleep(200 * time.Millisecond) // the load keeps running after the backup
	lg.halt()
	cts, keys := lg.before(began)
	nct, nkeys := lg.counts()
	if len(cts) == 0 || len(keys) == 0 || nct == len(cts) {
		t.Fatalf("the load did not run around the backup: %d of %d ciphertexts and %d of %d keys before it", len(cts), nct, len(keys), nkeys)
	}
	t.Logf("backup while serving: %d Encrypt and %d CreateKey acknowledged before it began, %d and %d in all (%d errors)\n%s",
		len(cts), len(keys), nct, nkeys, lg.errs.Load(), out)
	mustTrent(t, in, "backup", "verify", backupDir)
	// A stolen backup opens nothing: it holds neither the root key nor
	// any secret it seals, in any encoding.
	if strings.Contains(out, "root.key") {
		t.Fatal("the backup names the root key file")
	}
	roots, err := rootkey.ReadKeyFile(in.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{[]byte(adminSecret)}
	for _, k := range roots {
		secrets = append(secrets, k.Secret)
	}
	secrets = append(secrets, pop.secrets...)
	for _, sc := range pop.sealed {
		secrets = append(secrets, sc.plaintext)
	}
	for i, sec := range secrets {
		if dirHoldsBytes(t, backupDir, sec) {
			t.Fatalf("the backup holds secret %d of %d in the clear", i, len(secrets))
		}
	}

	// The machine is lost: the server dies, the data directory and the
	// root key file go. The key comes back from 3 of its 5 shares.
	s.kill()
	if err := os.RemoveAll(in.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(in.KeyFile); err != nil {
		t.Fatal(err)
	}
	in.KeyFile = rebuildRootKey(t, in, shares)

	out = mustTrent(t, in, append([]string{"restore", "--from", backupDir, "--root-key-file", in.KeyFile}, in.dirArgs()...)...)
	if !strings.Contains(out, "restore recorded as record") {
		t.Fatalf("restore output: %s", out)
	}
	s = serve(t, in)
	pop.check(t, s)
	checkAcked(t, s, cts, keys)
	// The restored server serves new writes too.
	create(t, s.kms(), nil)
	// A restore over the live installation is refused before it writes
	// (the data directory is not empty), and the server serves on.
	out, err = trent(t, in, append([]string{"restore", "--from", backupDir, "--root-key-file", in.KeyFile}, in.dirArgs()...)...)
	if err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("restore over a live data directory: %v\n%s", err, out)
	}
	pop.check(t, s)
	s.stop(t)

	out, err = trent(t, in, append([]string{"audit", "verify"}, in.dirArgs()...)...)
	if err != nil || !strings.Contains(out, "restored from a backup") {
		t.Fatalf("trent audit verify across the restore: %v\n%s", err, out)
	}
	t.Logf("audit verify:\n%s", out)

	t.Run("fail/damaged-backup", func(t *testing.T) { testDamagedBackup(t, in, backupDir) })
	t.Run("fail/root-key-unavailable", func(t *testing.T) {
		other := newInstall(t)
		os.MkdirAll(filepath.Dir(other.KeyFile), 0o700)
		serve(t, other).kill() // makes another root key
		out, err := trent(t, other, "restore", "--from", backupDir, "--data-dir", other.DataDir+"-restored", "--root-key-file", other.KeyFile)
		if err == nil || !strings.Contains(out, "restore refused: root key mismatch: the store needs root key") {
			t.Fatalf("restore with another root key: %v\n%s", err, out)
		}
		if _, err := os.Stat(other.DataDir + "-restored"); !os.IsNotExist(err) {
			t.Fatal("a refused restore made the data directory")
		}
	})
}

// testDamagedBackup: one byte changed, or a file missing, is refused by
// trent backup verify and trent restore, which writes nothing.
func testDamagedBackup(t *testing.T, in install, good string) {
	cases := []struct {
		name, file string
		damage     func(path string) error
		want       string
	}{
		{"byte-changed-store", "store/trent.db", flipByte, "store/trent.db has changed"},
		{"byte-changed-trail", "", flipByte, "has changed"},
		{"byte-changed-manifest", "manifest.json", flipByte, "manifest.json"},
		{"missing-digests", "audit/digest-node1.jsonl", os.Remove, "audit/digest-node1.jsonl is missing"},
		{"missing-signing-key", "audit-signing.key", os.Remove, "audit-signing.key is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			file := tc.file
			if file == "" {
				segs, _ := filepath.Glob(filepath.Join(dir, "audit", "trail-*.jsonl"))
				if len(segs) == 0 {
					t.Fatal("no segment in the backup")
				}
				file, _ = filepath.Rel(dir, segs[0])
			}
			if err := tc.damage(filepath.Join(dir, file)); err != nil {
				t.Fatal(err)
			}
			out, err := trent(t, in, "backup", "verify", dir)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("backup verify of a damaged backup: %v\n%s", err, out)
			}
			target := filepath.Join(t.TempDir(), "data")
			out, err = trent(t, in, "restore", "--from", dir, "--data-dir", target, "--root-key-file", in.KeyFile)
			if err == nil || !strings.Contains(out, "damaged or incomplete") {
				t.Fatalf("restore of a damaged backup: %v\n%s", err, out)
			}
			if _, err := os.Stat(target); !os.IsNotExist(err) {
				t.Fatal("a refused restore made the data directory")
			}
		})
	}
}

func flipByte(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b[len(b)/2] ^= 0x04
	return os.WriteFile(path, b, 0o600)
}

// dirHoldsBytes reports whether a file under dir contains secret in any
// form a careless writer would use: raw, hex (either case) or base64
// (standard or URL alphabet, any alignment of a 3-byte boundary).
func dirHoldsBytes(t *testing.T, dir string, secret []byte) bool {
	t.Helper()
	forms := [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(strings.ToUpper(hex.EncodeToString(secret)))}
	for off := 0; off < 3 && off < len(secret); off++ {
		// A base64 run of secret[off:] minus its last, padding-bound
		// characters is found wherever secret is encoded.
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			b := enc.EncodeToString(secret[off:])
			forms = append(forms, []byte(strings.TrimRight(b, "=")[:len(b)-4]))
		}
	}
	found := ""
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, f := range forms {
			if bytes.Contains(b, f) {
				found = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != "" {
		t.Logf("%s holds a secret", found)
	}
	return found != ""
}

// TestDirHoldsBytes: the drill's search for secrets finds one in each
// form it looks for, wherever it stands in a file.
func TestDirHoldsBytes(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789ABCDEF")
	for name, enc := range map[string]func([]byte) string{
		"raw":       func(b []byte) string { return string(b) },
		"hex":       hex.EncodeToString,
		"HEX":       func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) },
		"base64":    base64.StdEncoding.EncodeToString,
		"base64url": base64.RawURLEncoding.EncodeToString,
	} {
		for pre := 0; pre < 3; pre++ {
			dir := t.TempDir()
			// The secret inside a longer value, at every alignment.
			data := enc(append(append(bytes.Repeat([]byte{'x'}, pre), secret...), "tail"...))
			os.WriteFile(filepath.Join(dir, "f"), []byte(`{"v":"`+data+`"}`), 0o600)
			if !dirHoldsBytes(t, dir, secret) {
				t.Errorf("%s at offset %d not found", name, pre)
			}
		}
	}
	if dirHoldsBytes(t, t.TempDir(), secret) {
		t.Error("found in an empty directory")
	}
}
