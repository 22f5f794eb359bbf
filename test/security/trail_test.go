package security

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// Trail completeness (issue 16.5): an attacker who can write the audit
// directory cuts the end of the trail together with the digests that cover
// it. The anchor in the store (the latest digest of each node) reveals it:
// verify reports TRUNCATED, and a server refuses to start on the cut trail
// unless the operator accepts the loss, which is then recorded.

// trailConfig writes a configuration file with an audit section and
// returns its path.
func trailConfig(t *testing.T, audit string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trent.yaml")
	if err := os.WriteFile(p, []byte("version: 1\naudit:\n"+audit), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// trailSegments returns the segment files of node1 in dir, oldest first.
func trailSegments(t *testing.T, dir string) []string {
	t.Helper()
	return trailNodeSegments(t, dir, "node1")
}

// trailNodeSegments returns the segment files of node in dir, oldest first.
func trailNodeSegments(t *testing.T, dir, node string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "trail-"+node+"-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m) // the first sequence number is zero-padded in the name
	return m
}

// trailSegmentFirstSeq is the first sequence number in a segment's name.
func trailSegmentFirstSeq(t *testing.T, path string) uint64 {
	t.Helper()
	parts := strings.Split(filepath.Base(path), "-")
	n, err := strconv.ParseUint(parts[len(parts)-2], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// trailLines returns the lines of a file, each with its newline.
func trailLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.TrimRight(b, "\x00") // a live segment's preallocated tail
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// trailCut removes every record after keep, and every digest that covers
// one of them and all digests after it: a shorter trail, consistent in
// itself, as an attacker would leave it.
func trailCut(t *testing.T, dir string, keep uint64) {
	t.Helper()
	trailCutNode(t, dir, "node1", keep)
}

// trailCutNode is trailCut for the trail of node.
func trailCutNode(t *testing.T, dir, node string, keep uint64) {
	t.Helper()
	for _, p := range trailNodeSegments(t, dir, node) {
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
	dp := filepath.Join(dir, "digest-"+node+".jsonl")
	var kept []byte
	for _, line := range trailLines(t, dp) {
		var d struct{ Digest struct{ LastSeq uint64 } }
		if json.Unmarshal(line, &d) != nil || d.Digest.LastSeq > keep {
			break
		}
		kept = append(kept, line...)
	}
	if err := os.WriteFile(dp, kept, 0o600); err != nil {
		t.Fatal(err)
	}
}

// trailLastSeq is the highest record number of node1 in dir.
func trailLastSeq(t *testing.T, dir string) uint64 {
	t.Helper()
	segs := trailSegments(t, dir)
	var last uint64
	for _, line := range trailLines(t, segs[len(segs)-1]) {
		var r struct{ Seq uint64 }
		if json.Unmarshal(line, &r) == nil && r.Seq > last {
			last = r.Seq
		}
	}
	return last
}

// copyDir copies the regular files of src into a new dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// trustedPublicKey copies the digest public key that the server wrote into
// its trail directory at first start, as an operator keeps it elsewhere.
func trustedPublicKey(t *testing.T, auditDir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(auditDir, "pubkey-*.pem"))
	if len(m) != 1 {
		t.Fatalf("public keys in the trail directory: %v", m)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted.pem")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// bigDescription makes each CreateKey record about 16 KiB (the description
// is in requestParameters and responseElements), so that a trail of a
// hundred calls spans several 1 MiB segments.
var bigDescription = strings.Repeat("d", 8000)

func TestTrailTruncationDetected(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	cfg := trailConfig(t, "  digest_interval: 200ms\n  max_segment_mib: 1\n")
	args := []string{"--config", cfg}
	s := Start(t, Opts{DataDir: data, Args: args})
	auditDir := filepath.Join(data, "audit")
	pub := trustedPublicKey(t, auditDir)
	for i := range 100 {
		s.CreateKey(t, Admin, map[string]any{"Description": bigDescription})
		if i%25 == 0 {
			time.Sleep(300 * time.Millisecond) // let interval digests cover part of the trail
		}
	}
	s.Stop(t)
	if n := len(trailSegments(t, auditDir)); n < 2 {
		t.Fatalf("%d segments; the test needs several", n)
	}
	verify := func() (string, error) {
		return Trent(t, nil, "audit", "verify", "--data-dir", data, "--config", cfg, "--public-key", pub, "--require-digests")
	}
	out, err := verify()
	if err != nil || !strings.Contains(out, "OK") || !strings.Contains(out, "records from ") || !strings.Contains(out, "anchor in the store: digest") {
		t.Fatalf("untouched trail: %v\n%s", err, out)
	}
	pristine := filepath.Join(t.TempDir(), "pristine")
	copyDir(t, auditDir, pristine)
	last := trailLastSeq(t, auditDir)

	cuts := []struct {
		name string
		cut  func(t *testing.T)
	}{
		{"last-records-and-their-digests", func(t *testing.T) { trailCut(t, auditDir, last-5) }},
		{"last-segment-and-its-digests", func(t *testing.T) {
			segs := trailSegments(t, auditDir)
			trailCut(t, auditDir, trailSegmentFirstSeq(t, segs[len(segs)-1])-1)
		}},
		{"digest-file", func(t *testing.T) { os.Remove(filepath.Join(auditDir, "digest-node1.jsonl")) }},
		{"everything", func(t *testing.T) {
			os.RemoveAll(auditDir)
			os.MkdirAll(auditDir, 0o700)
		}},
	}
	for _, c := range cuts {
		os.RemoveAll(auditDir)
		copyDir(t, pristine, auditDir)
		c.cut(t)
		out, err := verify()
		if err == nil || !strings.Contains(out, "TRUNCATED") {
			t.Errorf("%s: verify = %v, want a failure with TRUNCATED:\n%s", c.name, err, out)
		} else {
			t.Logf("%s:\n%s", c.name, out)
		}
	}

	// The server refuses to start on a cut trail (the last cut left an
	// empty directory; cut the records too).
	os.RemoveAll(auditDir)
	copyDir(t, pristine, auditDir)
	trailCut(t, auditDir, last-5)
	f := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, Args: args, ExpectFail: true})
	if err, _ := f.Exited(time.Second); err == nil || !strings.Contains(f.Output(), "truncated") || !strings.Contains(f.Output(), "--accept-audit-truncation") {
		t.Fatalf("start on a cut trail: exit %v, output:\n%s", err, f.Output())
	}

	// Told to accept it, it starts, records the truncation, and the trail
	// verifies again (with a warning).
	a := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, Args: append(args, "--accept-audit-truncation")})
	a.CreateKey(t, Admin, nil)
	a.Stop(t)
	out, err = Trent(t, nil, "audit", "list", "--data-dir", data, "--config", cfg, "--event", "AuditTrailTruncationAccepted")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"lostFrom"`) {
		t.Fatalf("truncation event: %v\n%s", err, out)
	}
	out, err = verify()
	if err != nil || !strings.Contains(out, "truncation accepted") {
		t.Fatalf("verify after the accepted truncation: %v\n%s", err, out)
	}
	// A later start needs no flag.
	b := Start(t, Opts{DataDir: data, RootKeyHex: s.RootKeyHex, ConfigHome: s.ConfigHome, Args: args})
	b.Stop(t)
}

// TestTrailHeartbeatAndGap: an idle server writes heartbeat digests; a
// server that wrote none for longer than its period (here frozen with
// SIGSTOP) leaves a gap that verify reports.
func TestTrailHeartbeatAndGap(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	cfg := trailConfig(t, "  digest_interval: 200ms\n  heartbeat_interval: 1s\n")
	s := Start(t, Opts{DataDir: data, Args: []string{"--config", cfg}})
	auditDir := filepath.Join(data, "audit")
	pub := trustedPublicKey(t, auditDir)
	s.CreateKey(t, Admin, nil)
	reasons := func() map[string]int {
		m := map[string]int{}
		for _, line := range trailLines(t, filepath.Join(auditDir, "digest-node1.jsonl")) {
			var d struct{ Digest struct{ Reason string } }
			json.Unmarshal(line, &d)
			m[d.Digest.Reason]++
		}
		return m
	}
	WaitFor(t, 10*time.Second, func() error {
		if n := reasons()["heartbeat"]; n < 2 {
			return errString("no heartbeat digests while idle")
		}
		return nil
	})
	verify := func() (string, error) {
		return Trent(t, nil, "audit", "verify", "--data-dir", data, "--config", cfg, "--public-key", pub, "--require-digests")
	}
	if out, err := verify(); err != nil {
		t.Fatalf("verify while running: %v\n%s", err, out)
	}
	// Freeze the node for longer than heartbeat + 2 intervals + slack
	// (1 s + 0.4 s + 1 s).
	syscall.Kill(s.PID(), syscall.SIGSTOP)
	time.Sleep(5 * time.Second)
	syscall.Kill(s.PID(), syscall.SIGCONT)
	time.Sleep(1500 * time.Millisecond)
	s.Stop(t)
	out, err := verify()
	if err == nil || !strings.Contains(out, "a period is missing") {
		t.Fatalf("verify after a 5 s gap = %v, want a digest-gap failure:\n%s", err, out)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestTrailAnchorInPostgres: in cluster mode each node's anchor lives in
// PostgreSQL, keyed by node ID. Cutting one node's trail is reported for
// that node only, and that node refuses to restart; the other node is
// unaffected.
func TestTrailAnchorInPostgres(t *testing.T) {
	t.Parallel()
	storeURL := pgtest.FreshSchema(t, "")
	rootKey := randHex(32)
	cfg := trailConfig(t, "  digest_interval: 200ms\n")
	dirs := map[string]string{"n1": t.TempDir(), "n2": t.TempDir()}
	args := func(node string) []string {
		return []string{"--config", cfg, "--store", storeURL, "--node-id", node}
	}
	var pub string
	for _, node := range []string{"n1", "n2"} {
		s := Start(t, Opts{DataDir: dirs[node], RootKeyHex: rootKey, Args: args(node)})
		for range 5 {
			s.CreateKey(t, Admin, nil)
		}
		s.Stop(t)
		if node == "n2" {
			pub = trustedPublicKey(t, filepath.Join(dirs[node], "audit"))
		}
	}
	verify := func(node string) (string, error) {
		return Trent(t, nil, "audit", "verify", "--data-dir", dirs[node], "--config", cfg, "--store", storeURL, "--public-key", pub, "--require-digests")
	}
	// The signing keys differ per data directory: check n2 with its own.
	if out, err := verify("n2"); err != nil || !strings.Contains(out, "anchor in the store") {
		t.Fatalf("n2 untouched: %v\n%s", err, out)
	}
	n2audit := filepath.Join(dirs["n2"], "audit")
	trailCutNode(t, n2audit, "n2", 3) // records 4 and 5 go, with the digests covering them
	if out, err := verify("n2"); err == nil || !strings.Contains(out, "TRUNCATED") {
		t.Fatalf("n2 cut: %v\n%s", err, out)
	}
	if out, err := Trent(t, nil, "audit", "verify", "--data-dir", dirs["n1"], "--config", cfg, "--store", storeURL, "--require-digests"); err != nil {
		t.Fatalf("n1 is not affected by n2's cut: %v\n%s", err, out)
	}
	f := Start(t, Opts{DataDir: dirs["n2"], RootKeyHex: rootKey, Args: args("n2"), ExpectFail: true})
	if err, _ := f.Exited(time.Second); err == nil || !strings.Contains(f.Output(), "--accept-audit-truncation") {
		t.Fatalf("n2 restarted on its cut trail: %v\n%s", err, f.Output())
	}
	s := Start(t, Opts{DataDir: dirs["n1"], RootKeyHex: rootKey, Args: args("n1")})
	s.Stop(t)
}

// TestTrailRetentionVerifies: retention (here by size, archiving) removes
// old segments, records each action in the trail, and the retained trail
// still verifies against its anchor: removal by retention is not taken
// for truncation or tampering.
func TestTrailRetentionVerifies(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	archive := filepath.Join(t.TempDir(), "archive")
	cfg := trailConfig(t, "  max_segment_mib: 1\n  max_total_mib: 1\n  archive_dir: "+archive+"\n")
	s := Start(t, Opts{DataDir: data, Args: []string{"--config", cfg}})
	pub := trustedPublicKey(t, filepath.Join(data, "audit"))
	for range 200 { // ~3 MiB of records
		s.CreateKey(t, Admin, map[string]any{"Description": bigDescription})
	}
	s.Stop(t)
	archived, _ := filepath.Glob(filepath.Join(archive, "trail-node1-*.jsonl"))
	if len(archived) == 0 {
		t.Fatal("retention archived nothing")
	}
	// Each archived segment is named by a retention record, in the trail
	// or (older ones) among the archived segments themselves.
	kept, err := Trent(t, nil, "audit", "list", "--data-dir", data, "--config", cfg, "--event", "AuditRetention")
	if err != nil || !strings.Contains(kept, `"action":"archive"`) {
		t.Fatalf("no retention record in the retained trail: %v\n%s", err, kept)
	}
	old, err := Trent(t, nil, "audit", "list", "--dir", archive, "--event", "AuditRetention")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range archived {
		if !strings.Contains(kept+old, `"`+filepath.Base(a)+`"`) {
			t.Fatalf("archived segment %s is named by no retention record", filepath.Base(a))
		}
	}
	out, err := Trent(t, nil, "audit", "verify", "--data-dir", data, "--config", cfg, "--public-key", pub, "--require-digests")
	if err != nil || !strings.Contains(out, "removed by retention") {
		t.Fatalf("verify of the retained trail: %v\n%s", err, out)
	}
}
