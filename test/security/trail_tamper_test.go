package security

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Red team (rt-rest): the start-up refusal on a cut trail (issue 16.5) must
// not be talked out of by a digest line nobody signed. The digests that
// relax the check, a truncation the operator accepted (lostFrom..
// lostThrough) and a retention digest (prunedThrough), are only what they
// claim if the node's signing key signed them; whoever can write the trail
// directory can append such a line, but not sign it.

// rtDigest is the payload of a digest line (audit.Digest's JSON layout).
type rtDigest struct {
	Version       int    `json:"version"`
	Node          string `json:"node"`
	DigestSeq     uint64 `json:"digestSeq"`
	Time          string `json:"time"`
	Reason        string `json:"reason"`
	FirstSeq      uint64 `json:"firstSeq"`
	LastSeq       uint64 `json:"lastSeq"`
	LastHash      string `json:"lastHash"`
	PrevDigest    string `json:"prevDigestHash"`
	PrunedThrough uint64 `json:"prunedThrough,omitempty"`
	PrunedHash    string `json:"prunedHash,omitempty"`
	KeyID         string `json:"keyId"`
	PrevSignature string `json:"prevDigestSignature,omitempty"`
	IntervalMs    int64  `json:"intervalMs,omitempty"`
	HeartbeatMs   int64  `json:"heartbeatMs,omitempty"`
	LostFrom      uint64 `json:"lostFrom,omitempty"`
	LostThrough   uint64 `json:"lostThrough,omitempty"`
}

// rtLastDigest returns the last digest line of node1 in dir: its payload,
// the payload's SHA-256 and its signature.
func rtLastDigest(t *testing.T, dir string) (rtDigest, string, string) {
	t.Helper()
	lines := trailLines(t, filepath.Join(dir, "digest-node1.jsonl"))
	var dl struct {
		Digest    json.RawMessage `json:"digest"`
		Signature string          `json:"signature"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &dl); err != nil {
		t.Fatal(err)
	}
	var d rtDigest
	if err := json.Unmarshal(dl.Digest, &d); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(dl.Digest)
	return d, hex.EncodeToString(sum[:]), dl.Signature
}

// rtAppendForgedDigest appends a digest line that follows the last one,
// changed by f, with a signature of random bytes (the attacker has no
// signing key).
func rtAppendForgedDigest(t *testing.T, dir string, f func(d *rtDigest)) {
	t.Helper()
	last, hash, sig := rtLastDigest(t, dir)
	d := last
	d.DigestSeq++
	d.Time = time.Now().UTC().Format(time.RFC3339Nano)
	d.PrevDigest, d.PrevSignature = hash, sig
	d.FirstSeq = 0
	f(&d)
	payload, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	forged := make([]byte, 64)
	rand.Read(forged)
	line, err := json.Marshal(map[string]any{"digest": json.RawMessage(payload), "signature": base64.StdEncoding.EncodeToString(forged)})
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(filepath.Join(dir, "digest-node1.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Write(append(line, '\n')); err != nil {
		t.Fatal(err)
	}
}

// rtCutRecords removes every record after keep from node1's segments
// (segments that start after keep are deleted), leaving the digests alone.
func rtCutRecords(t *testing.T, dir string, keep uint64) {
	t.Helper()
	for _, p := range trailSegments(t, dir) {
		if trailSegmentFirstSeq(t, p) > keep {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var kept []byte
		for _, line := range trailLines(t, p) {
			var r struct{ Seq uint64 }
			if json.Unmarshal(line, &r) == nil && r.Seq <= keep {
				kept = append(kept, line...)
			}
		}
		if err := os.WriteFile(p, kept, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestForgedDigestBypassesTruncationRefusal: the last records of a
// trail are cut (their digests, the anchor's among them, are left in
// place), and an unsigned digest line is appended that declares the cut
// records lost by an accepted truncation; in a second attack every segment
// is removed and an unsigned retention digest claims they were pruned. The
// server must still refuse to start, and verify with the trusted key must
// fail.
func TestForgedDigestBypassesTruncationRefusal(t *testing.T) {
	t.Parallel()
	attacks := []struct {
		name string
		cut  func(t *testing.T, auditDir string, last uint64)
	}{
		{"forged accepted truncation", func(t *testing.T, auditDir string, last uint64) {
			keep := last - 4
			rtCutRecords(t, auditDir, keep)
			segs := trailSegments(t, auditDir)
			lines := trailLines(t, segs[len(segs)-1])
			var r struct{ Hash string }
			if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
				t.Fatal(err)
			}
			rtAppendForgedDigest(t, auditDir, func(d *rtDigest) {
				d.Reason = "truncation-accepted"
				d.LastSeq, d.LastHash = keep, r.Hash
				d.LostFrom, d.LostThrough = keep+1, last
			})
		}},
		{"forged retention", func(t *testing.T, auditDir string, last uint64) {
			for _, p := range trailSegments(t, auditDir) {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
			rtAppendForgedDigest(t, auditDir, func(d *rtDigest) {
				d.Reason = "retention"
				d.PrunedThrough, d.PrunedHash = d.LastSeq, d.LastHash
			})
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			cfg := trailConfig(t, "  digest_interval: 200ms\n")
			args := []string{"--config", cfg}
			s := Start(t, Opts{DataDir: data, Args: args})
			auditDir := filepath.Join(data, "audit")
			pub := trustedPublicKey(t, auditDir)
			for range 10 {
				s.CreateKey(t, Admin, nil)
			}
			s.Stop(t)
			last := trailLastSeq(t, auditDir)
			if d, _, _ := rtLastDigest(t, auditDir); d.LastSeq != last {
				t.Fatalf("the shutdown digest covers up to %d, the trail ends at %d", d.LastSeq, last)
			}
			a.cut(t, auditDir, last)
			out, err := Trent(t, nil, "audit", "verify", "--data-dir", data, "--config", cfg, "--public-key", pub, "--require-digests")
			if err == nil {
				t.Errorf("verify passed the forged trail:\n%s", out)
			}
			f := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, Args: args, ExpectFail: true})
			if err, _ := f.Exited(time.Second); err == nil || !strings.Contains(f.Output(), "truncated") {
				t.Errorf("the server started on a cut trail that an unsigned digest declares complete (exit %v):\n%s", err, f.Output())
			}
		})
	}
}

// TestGhostNodeTrail: on a SQLite data directory, a server is run
// once under another node ID with its trail in another directory, serves
// a call, and that directory is removed. The store keeps the ghost node's
// anchor; verify of the data directory must report the missing trail
// instead of calling the data directory's trail complete.
func TestGhostNodeTrail(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := Start(t, Opts{DataDir: data})
	pub := trustedPublicKey(t, filepath.Join(data, "audit"))
	s.CreateKey(t, Admin, nil)
	s.Stop(t)

	elsewhere := filepath.Join(t.TempDir(), "ghost-audit")
	cfg := trailConfig(t, "  dir: "+elsewhere+"\n")
	g := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, Args: []string{"--config", cfg, "--node-id", "ghost"}})
	unrecorded := g.CreateKey(t, Admin, nil)
	g.Stop(t)
	if err := os.RemoveAll(elsewhere); err != nil {
		t.Fatal(err)
	}
	s2 := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome})
	s2.Stop(t)

	out, err := Trent(t, nil, "audit", "verify", "--data-dir", data, "--public-key", pub, "--require-digests")
	if err == nil || !strings.Contains(out, "ghost") || !strings.Contains(out, "TRUNCATED") {
		t.Fatalf("verify of the data directory after the ghost node's trail (which recorded CreateKey %s) was removed = %v, want a failure naming node ghost:\n%s", unrecorded, err, out)
	}
}

// TestRefusedStartKeepsEvidence: the last segment is cut in the
// middle of a record that a signed digest covers (a torn write, or a cut).
// The server refuses to start, and the refused start leaves the trail as
// it found it: the torn bytes of the covered record stay for the
// investigation (they used to be cut before the refusal).
func TestRefusedStartKeepsEvidence(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := Start(t, Opts{DataDir: data})
	auditDir := filepath.Join(data, "audit")
	pub := trustedPublicKey(t, auditDir)
	for range 3 {
		s.CreateKey(t, Admin, nil)
	}
	s.Stop(t)
	segs := trailSegments(t, auditDir)
	seg := segs[len(segs)-1]
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	torn := b[:len(b)-100] // the last record loses its end
	if err := os.WriteFile(seg, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	digests, err := os.ReadFile(filepath.Join(auditDir, "digest-node1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	f := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, ExpectFail: true})
	atrestRefused(t, f, "truncated", "--accept-audit-truncation")
	if after, _ := os.ReadFile(seg); string(after) != string(torn) {
		t.Errorf("the refused start changed the segment: %d bytes before, %d after", len(torn), len(after))
	}
	if after, _ := os.ReadFile(filepath.Join(auditDir, "digest-node1.jsonl")); string(after) != string(digests) {
		t.Error("the refused start changed the digest file")
	}
	if out, err := Trent(t, nil, "audit", "verify", "--data-dir", data, "--public-key", pub, "--require-digests"); err == nil || !strings.Contains(out, "truncated") {
		t.Fatalf("verify of the torn trail = %v:\n%s", err, out)
	}
	// Accepted, the node cuts the torn record, records the loss and
	// serves.
	a := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, Args: []string{"--accept-audit-truncation"}})
	a.CreateKey(t, Admin, nil)
	a.Stop(t)
	if out, err := Trent(t, nil, "audit", "verify", "--data-dir", data, "--public-key", pub, "--require-digests"); err != nil || !strings.Contains(out, "truncation accepted") {
		t.Fatalf("verify after the accepted truncation = %v:\n%s", err, out)
	}
}
