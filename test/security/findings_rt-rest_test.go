package security

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Findings of the rt-rest red team that are not fixed: each test performs
// the attack and asserts the safe outcome, so it fails until the lead
// decides on a fix (see the report).

// TestRTRestFindingSigningKeyDeleted: whoever can write the data
// directory deletes the sealed audit-signing key. The node makes a new
// signing key without a word and signs the rest of the trail with it, so
// `trent audit verify --public-key` with the operator's trusted key fails
// from then on ("no public key with id"), and nothing says why. Like a
// missing root key file for a sealed store, a missing signing key for a
// trail that has digests (or an anchor) should stop the start with a
// message that names the key the trail needs.
func TestFindingSigningKeyDeleted(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := Start(t, Opts{DataDir: data})
	s.CreateKey(t, Admin, nil)
	s.Stop(t)
	if err := os.Remove(filepath.Join(data, "audit-signing.key")); err != nil {
		t.Fatal(err)
	}
	// Start it by hand with a short deadline: today it serves.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, trentBinary(t), "serve", "--listen", "127.0.0.1:0", "--data-dir", data)
	cmd.Env = append(os.Environ(), "TRENT_ROOT_KEY="+s.RootKeyHex, "XDG_CONFIG_HOME="+s.ConfigHome, "HOME="+s.ConfigHome,
		"TRENT_ACCESS_KEY_ID="+adminAKID, "TRENT_SECRET_ACCESS_KEY="+adminSecret)
	out, err := cmd.CombinedOutput()
	keys, _ := filepath.Glob(filepath.Join(data, "audit", "pubkey-*.pem"))
	if strings.Contains(string(out), "endpoint:") || err == nil || !strings.Contains(string(out), "audit-signing.key") {
		t.Fatalf("the node started with a new audit signing key for a trail signed by another (public keys now: %d): %v\n%s", len(keys), err, out)
	}
}
