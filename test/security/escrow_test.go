package security

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/escrow"
)

// escrowEncrypt encrypts plaintext (base64) under key and returns the
// ciphertext blob (base64).
func escrowEncrypt(t *testing.T, s *Server, key, plaintext string) string {
	t.Helper()
	r := s.Call(t, Admin, "Encrypt", map[string]any{"KeyId": key, "Plaintext": plaintext})
	var out struct{ CiphertextBlob string }
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &out) != nil || out.CiphertextBlob == "" {
		t.Fatalf("Encrypt: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	return out.CiphertextBlob
}

// TestEscrowShares runs the trent binary as custodians would: the root key
// of a server is split into three age-encrypted shares (one X25519, two
// post-quantum hybrid recipients), and after the key is gone two shares
// rebuild a key file that a new server opens the old store with. Along
// the way the attacks a share holder can make are refused, and none
// writes a key file: one share alone, a share with a recomputed checksum
// but changed bytes (it would rebuild another key), shares of two
// escrows, a share encrypted to someone else. Nothing the commands print
// shows the key.
func TestEscrowShares(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	key := s.CreateKey(t, Admin, nil)
	blob := escrowEncrypt(t, s, key, "ZXNjcm93ZWQ=")
	s.Stop(t)

	dir := t.TempDir()
	env := []string{"TRENT_ROOT_KEY=" + s.RootKeyHex, "XDG_CONFIG_HOME=" + s.ConfigHome, "HOME=" + s.ConfigHome}
	x, _ := age.GenerateX25519Identity()
	pq1, _ := age.GenerateHybridIdentity()
	pq2, _ := age.GenerateHybridIdentity()
	idFile := func(name string, ids ...interface{ String() string }) string {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(id.String() + "\n")
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	escrowOnce := func(out string) {
		t.Helper()
		o, err := Trent(t, env, "root-key", "escrow", "--shares", "3", "--threshold", "2", "--out", out,
			"--recipient", x.Recipient().String(), "--recipient", pq1.Recipient().String(), "--recipient", pq2.Recipient().String())
		if err != nil || !strings.Contains(o, "any 2 of which rebuild it") {
			t.Fatalf("escrow: %v\n%s", err, o)
		}
		if strings.Contains(strings.ToLower(o), s.RootKeyHex) {
			t.Fatal("escrow printed the root key")
		}
	}
	shares, other := filepath.Join(dir, "shares"), filepath.Join(dir, "other")
	escrowOnce(shares)
	escrowOnce(other)
	share := func(d string, i int) string { return filepath.Join(d, "share-"+string(rune('0'+i))+"-of-3.age") }
	for i := 1; i <= 3; i++ {
		b, _ := os.ReadFile(share(shares, i))
		if fi, err := os.Stat(share(shares, i)); err != nil || fi.Mode().Perm() != 0o600 || !escrow.Encrypted(b) {
			t.Fatalf("share %d: not an encrypted file of mode 0600 (%v)", i, err)
		}
	}

	// Custodian 1 makes a share with a valid checksum but changed bytes,
	// hoping to steer the rebuilt key.
	b, _ := os.ReadFile(share(shares, 1))
	mine, err := escrow.ReadShare(b, []age.Identity{x})
	if err != nil {
		t.Fatal(err)
	}
	mine.Y[0] ^= 0x01
	forged := filepath.Join(dir, "forged.txt")
	os.WriteFile(forged, mine.Marshal(), 0o600)

	all := idFile("all.key", x, pq1, pq2)
	out := filepath.Join(dir, "rebuilt", "root.key")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"fail/one-share", []string{"--identity", all, share(shares, 2)}, "too few shares: 1 given; any 2 of the 3"},
		{"fail/forged", []string{"--identity", all, forged, share(shares, 2)}, "but rebuild another"},
		{"fail/two-escrows", []string{"--identity", all, share(shares, 1), share(other, 2)}, "shares do not belong together"},
		{"fail/not-my-share", []string{"--identity", idFile("x.key", x), share(shares, 1), share(shares, 2)}, "no identity given decrypts the share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Trent(t, env, append([]string{"root-key", "recover", "--out", out}, tc.args...)...)
			if err == nil || !strings.Contains(o, tc.want) {
				t.Fatalf("recover: %v, want %q:\n%s", err, tc.want, o)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("a refused recover wrote a key file")
			}
		})
	}

	o, err := Trent(t, env, "root-key", "recover", "--out", out, "--identity", idFile("pq.key", pq1, pq2), share(shares, 3), share(shares, 2))
	if err != nil || !strings.Contains(o, "rebuilt from 2 shares") || strings.Contains(o, s.RootKeyHex) {
		t.Fatalf("recover: %v\n%s", err, o)
	}
	if b, _ := os.ReadFile(out); !strings.HasSuffix(strings.TrimSpace(string(b)), ":"+s.RootKeyHex) {
		t.Fatal("the rebuilt key file does not hold the root key")
	}
	s2 := Start(t, Opts{DataDir: s.DataDir, ConfigHome: s.ConfigHome, NoRootKeyEnv: true, Args: []string{"--root-key-file", out}})
	r := s2.Call(t, Admin, "Decrypt", map[string]any{"CiphertextBlob": blob})
	var dec struct{ Plaintext string }
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &dec) != nil || dec.Plaintext != "ZXNjcm93ZWQ=" {
		t.Fatalf("Decrypt with the rebuilt key: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
}
