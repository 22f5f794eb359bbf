package security

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Red team (rt-rest): `trent root-key move` interrupted. The move writes
// and syncs the new key file, then overwrites the old one with zeros and
// removes it. Interrupted between the two (a crash, a kill, a full disk),
// it leaves DATA_DIR/root.key full of zeros beside a complete key file in
// its new place: the server refuses to start and names `trent root-key
// move`, which must then finish the move instead of failing on the zeros.

// TestRootKeyMoveInterrupted: the state an interrupted move leaves is
// finished by running the command again, and the server then decrypts what
// it encrypted before.
func TestRootKeyMoveInterrupted(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := t.TempDir()
	legacy := filepath.Join(dir, "root.key")
	env := []string{"XDG_CONFIG_HOME=" + home, "HOME=" + home, "TRENT_ROOT_KEY="}
	s := Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true,
		Args: []string{"--root-key-file", legacy, "--allow-root-key-in-data-dir"}})
	plaintext := []byte("survives an interrupted move")
	blob := atrestEncrypt(t, s, plaintext)
	s.Stop(t)

	// What MoveFile leaves when interrupted after the overwrite.
	key, err := os.ReadFile(legacy)
	if err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(home, "trent", "root.key")
	if err := os.MkdirAll(filepath.Dir(def), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(legacy, make([]byte, len(key)), 0o600); err != nil {
		t.Fatal(err)
	}

	c := Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true, ExpectFail: true})
	atrestRefused(t, c, "trent root-key move --data-dir "+dir)
	out, err := Trent(t, env, "root-key", "move", "--data-dir", dir)
	if err != nil {
		t.Fatalf("root-key move after an interrupted move: %v\n%s", err, out)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the zeroed key file is still in the data directory: %v", err)
	}
	s = Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true})
	r := atrestDecrypt(t, s, blob)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "Plaintext") {
		t.Fatalf("Decrypt after the finished move: %d %s", r.Status, r.Body)
	}
}

// TestPINFileInDataDir: with the PKCS#11 provider, the token's PIN
// is what stands between whoever holds the token and the root key; a PIN
// file inside the data directory travels with every copy of it, as a key
// file there would. It is refused like the key file, before the module is
// even loaded (so this test needs no HSM).
func TestPINFileInDataDir(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	pin := filepath.Join(data, "hsm.pin")
	if err := os.WriteFile(pin, []byte("123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "trent.yaml")
	content := "version: 1\nroot_key:\n  provider: pkcs11\n  pkcs11_module: /nonexistent/libsofthsm2.so\n  pkcs11_token: trent\n  pkcs11_pin_file: " + pin + "\n"
	if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Start(t, Opts{DataDir: data, NoRootKeyEnv: true, Args: []string{"--config", cfg}, ExpectFail: true})
	atrestRefused(t, s, "PIN file "+pin+" is inside the data directory")
	if strings.Contains(s.Output(), "123456") {
		t.Fatal("the PIN is in the output")
	}
}
