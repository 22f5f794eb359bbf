package security

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The audit trail's digests are signed with an Ed25519 key sealed under the
// root key in DATA_DIR/audit-signing.key; the operator verifies them with
// a trusted copy of its public key. Whoever can write the data directory
// can delete, damage or swap that file. A node used to make a new key
// without a word and sign on, so `trent audit verify --public-key` with
// the trusted key failed from then on with an unexplained "no public key
// with id". Now such a node refuses to start, naming the key the trail
// needs and the two ways out (restore the file, or replace the key once
// with --replace-audit-signing-key), and a replacement is recorded in the
// trail and named by verify.

// sigkeyPubKeys returns the key IDs of the public key files in the trail
// directory, sorted.
func sigkeyPubKeys(t *testing.T, auditDir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(auditDir, "pubkey-*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range m {
		ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "pubkey-"), ".pem"))
	}
	slices.Sort(ids)
	return ids
}

// sigkeyTrust copies the trail directory's public key file of keyID out of
// the data directory, as an operator keeps a trusted copy.
func sigkeyTrust(t *testing.T, auditDir, keyID string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(auditDir, "pubkey-"+keyID+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted-"+keyID+".pem")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sigkeyTrail starts a server on a new data directory, records a call and
// stops it. It returns the server (for its root key), the trail directory
// and the signing key's ID.
func sigkeyTrail(t *testing.T) (*Server, string, string) {
	t.Helper()
	s := Start(t, Opts{})
	s.CreateKey(t, Admin, nil)
	s.Stop(t)
	auditDir := filepath.Join(s.DataDir, "audit")
	ids := sigkeyPubKeys(t, auditDir)
	if len(ids) != 1 {
		t.Fatalf("public keys after the first start: %v", ids)
	}
	return s, auditDir, ids[0]
}

// sigkeyStart starts a server again on s's data directory.
func sigkeyStart(t *testing.T, s *Server, expectFail bool, args ...string) *Server {
	t.Helper()
	return Start(t, Opts{DataDir: s.DataDir, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, Args: args, ExpectFail: expectFail})
}

// sigkeyVerify runs trent audit verify on the data directory with the
// trusted public key files.
func sigkeyVerify(t *testing.T, data string, trusted ...string) (string, error) {
	t.Helper()
	args := []string{"audit", "verify", "--data-dir", data, "--require-digests"}
	for _, p := range trusted {
		args = append(args, "--public-key", p)
	}
	return Trent(t, nil, args...)
}

// TestTrailSigningKeyDeleted: the sealed signing key file is deleted (also
// together with the digest file, when only the anchor in the store still
// names the key). The start is refused, naming the file, the key ID the
// trail was signed with and both ways out, and nothing is made or
// changed. Restoring the file from a backup works; so does
// --replace-audit-signing-key, once: the replacement is a signed digest
// and an AuditSigningKeyReplaced event, the new public key is where the
// old one was, and verify with only the old trusted key fails naming the
// new key ID, with both keys passes with a warning naming the
// replacement.
func TestTrailSigningKeyDeleted(t *testing.T) {
	t.Parallel()
	s, auditDir, oldKID := sigkeyTrail(t)
	data := s.DataDir
	trustedOld := sigkeyTrust(t, auditDir, oldKID)
	keyFile := filepath.Join(data, "audit-signing.key")
	backup, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	f := sigkeyStart(t, s, true)
	atrestRefused(t, f, keyFile+" is missing", "It must hold key "+oldKID, "backup", "--replace-audit-signing-key")
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("the refused start made a signing key file: %v", err)
	}
	if ids := sigkeyPubKeys(t, auditDir); !slices.Equal(ids, []string{oldKID}) {
		t.Errorf("the refused start wrote public keys: %v", ids)
	}
	if out, err := sigkeyVerify(t, data, trustedOld); err != nil {
		t.Fatalf("verify after the refused start: %v\n%s", err, out)
	}

	// The digest file too: the anchor in the store still names the key.
	digests := filepath.Join(auditDir, "digest-node1.jsonl")
	if err := os.Rename(digests, digests+".away"); err != nil {
		t.Fatal(err)
	}
	f = sigkeyStart(t, s, true)
	atrestRefused(t, f, keyFile+" is missing", "It must hold key "+oldKID, "--replace-audit-signing-key")
	if err := os.Rename(digests+".away", digests); err != nil {
		t.Fatal(err)
	}

	// Way out 1: the backup.
	if err := os.WriteFile(keyFile, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	sigkeyStart(t, s, false).Stop(t)
	if ids := sigkeyPubKeys(t, auditDir); !slices.Equal(ids, []string{oldKID}) {
		t.Fatalf("public keys after the restore: %v", ids)
	}

	// Way out 2: a new key, recorded.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	r := sigkeyStart(t, s, false, "--replace-audit-signing-key")
	r.CreateKey(t, Admin, nil)
	r.Stop(t)
	ids := sigkeyPubKeys(t, auditDir)
	if len(ids) != 2 || !slices.Contains(ids, oldKID) {
		t.Fatalf("public keys after the replacement: %v", ids)
	}
	newKID := ids[0]
	if newKID == oldKID {
		newKID = ids[1]
	}
	if !strings.Contains(r.Output(), newKID) || !strings.Contains(r.Output(), "replaced") {
		t.Errorf("the replacing start did not log the new key %s:\n%s", newKID, r.Output())
	}
	// The flag acted once: a later start without it serves, on the new key.
	sigkeyStart(t, s, false).Stop(t)
	if got := sigkeyPubKeys(t, auditDir); !slices.Equal(got, ids) {
		t.Fatalf("public keys after a later start: %v, want %v", got, ids)
	}

	// The first digest under the new key names both keys.
	var replaced []map[string]any
	for _, line := range trailLines(t, digests) {
		var dl struct{ Digest map[string]any }
		if err := json.Unmarshal(line, &dl); err != nil {
			t.Fatal(err)
		}
		if dl.Digest["keyId"] == newKID && replaced == nil {
			replaced = append(replaced, dl.Digest)
			if dl.Digest["reason"] != "signing-key-replaced" || dl.Digest["prevKeyId"] != oldKID || dl.Digest["publicKey"] == nil {
				t.Errorf("first digest under the new key: %v", dl.Digest)
			}
		}
	}
	if replaced == nil {
		t.Fatal("no digest signed by the new key")
	}
	out, err := Trent(t, nil, "audit", "list", "--data-dir", data, "--event", "AuditSigningKeyReplaced")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"previousKeyId":"`+oldKID+`"`) ||
		!strings.Contains(out, `"keyId":"`+newKID+`"`) || !strings.Contains(out, "audit-signing.key was missing") {
		t.Errorf("AuditSigningKeyReplaced events (%v):\n%s", err, out)
	}

	// Verify with the old trusted key only: fails where the key changed,
	// naming the new key.
	out, err = sigkeyVerify(t, data, trustedOld)
	if err == nil || !strings.Contains(out, "key-replaced") || !strings.Contains(out, "the signing key was replaced at ") ||
		!strings.Contains(out, "by key ID "+newKID) || !strings.Contains(out, "--public-key") {
		t.Errorf("verify with the old key only = %v, want a failure naming the replacement by %s:\n%s", err, newKID, out)
	}
	// With both: passes, with a warning naming the replacement.
	trustedNew := sigkeyTrust(t, auditDir, newKID)
	out, err = sigkeyVerify(t, data, trustedOld, trustedNew)
	if err != nil || !strings.Contains(out, "warning: the signing key was replaced at ") || !strings.Contains(out, oldKID) || !strings.Contains(out, newKID) {
		t.Errorf("verify with both keys = %v, want OK with a warning naming the replacement:\n%s", err, out)
	}
}

// TestTrailSigningKeyDamaged: the sealed signing key file is present but
// cannot be unsealed (a flipped byte, cut short, emptied). The start is
// refused naming the file and the key the trail needs, and the file is
// left as it is. With --replace-audit-signing-key the damaged file is
// kept aside and the replacement recorded.
func TestTrailSigningKeyDamaged(t *testing.T) {
	t.Parallel()
	s, auditDir, oldKID := sigkeyTrail(t)
	keyFile := filepath.Join(s.DataDir, "audit-signing.key")
	good, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"flipped", flipped},
		{"cut", good[:len(good)/2]},
		{"empty", nil},
	} {
		if err := os.WriteFile(keyFile, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		f := sigkeyStart(t, s, true)
		atrestRefused(t, f, keyFile+" cannot be unsealed", "It must hold key "+oldKID, "--replace-audit-signing-key")
		if b, err := os.ReadFile(keyFile); err != nil || !bytes.Equal(b, c.data) {
			t.Errorf("%s: the refused start changed the key file (%v)", c.name, err)
		}
		if ids := sigkeyPubKeys(t, auditDir); !slices.Equal(ids, []string{oldKID}) {
			t.Errorf("%s: the refused start wrote public keys: %v", c.name, ids)
		}
	}
	if err := os.WriteFile(keyFile, flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	sigkeyStart(t, s, false, "--replace-audit-signing-key").Stop(t)
	aside, _ := filepath.Glob(keyFile + ".unusable-*")
	if len(aside) != 1 {
		t.Fatalf("damaged key file kept aside: %v", aside)
	}
	if b, err := os.ReadFile(aside[0]); err != nil || !bytes.Equal(b, flipped) {
		t.Errorf("the file kept aside is not the damaged one (%v)", err)
	}
	ids := sigkeyPubKeys(t, auditDir)
	if len(ids) != 2 {
		t.Fatalf("public keys after the replacement: %v", ids)
	}
	out, err := Trent(t, nil, "audit", "list", "--data-dir", s.DataDir, "--event", "AuditSigningKeyReplaced")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, "could not be unsealed") || !strings.Contains(out, `"previousKeyId":"`+oldKID+`"`) {
		t.Errorf("AuditSigningKeyReplaced events (%v):\n%s", err, out)
	}
	var trusted []string
	for _, id := range ids {
		trusted = append(trusted, sigkeyTrust(t, auditDir, id))
	}
	if out, err := sigkeyVerify(t, s.DataDir, trusted...); err != nil || !strings.Contains(out, "the signing key was replaced") {
		t.Errorf("verify with both keys = %v:\n%s", err, out)
	}
}

// TestTrailSigningKeySwapped: the signing key file is replaced by another
// data directory's, sealed under the same root key (it unseals), also with
// a digest line in that key's name appended. The start is refused naming
// both keys; the trail stays signed by one key.
func TestTrailSigningKeySwapped(t *testing.T) {
	t.Parallel()
	s, auditDir, oldKID := sigkeyTrail(t)
	other := Start(t, Opts{RootKeyHex: s.RootKeyHex})
	other.Stop(t)
	otherIDs := sigkeyPubKeys(t, filepath.Join(other.DataDir, "audit"))
	if len(otherIDs) != 1 || otherIDs[0] == oldKID {
		t.Fatalf("other data directory's keys: %v", otherIDs)
	}
	b, err := os.ReadFile(filepath.Join(other.DataDir, "audit-signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(s.DataDir, "audit-signing.key")
	if err := os.WriteFile(keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f := sigkeyStart(t, s, true)
	atrestRefused(t, f, keyFile+" holds key "+otherIDs[0], "It must hold key "+oldKID, "--replace-audit-signing-key")
	// A digest line appended in the other key's name (without its
	// signature: the attacker cannot unseal the key) does not make the
	// other key pass for the trail's.
	rtAppendForgedDigest(t, auditDir, func(d *rtDigest) { d.KeyID = otherIDs[0] })
	f = sigkeyStart(t, s, true)
	atrestRefused(t, f, keyFile+" holds key "+otherIDs[0], "It must hold key "+oldKID, "--replace-audit-signing-key")
	if ids := sigkeyPubKeys(t, auditDir); !slices.Equal(ids, []string{oldKID}) {
		t.Errorf("the refused start wrote public keys: %v", ids)
	}
	if out, err := sigkeyVerify(t, s.DataDir, sigkeyTrust(t, auditDir, oldKID)); err == nil || !strings.Contains(out, "digest-signature") {
		t.Errorf("verify passed the forged digest line: %v\n%s", err, out)
	}
}
