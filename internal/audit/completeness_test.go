package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// anchoredTrail writes records 1..10 of node "n" in two sessions of five,
// with an anchor, and returns the directory, the anchor and the options.
func anchoredTrail(t *testing.T, segBytes int64) (string, *memAnchor, Options) {
	t.Helper()
	dir := t.TempDir()
	a := newMemAnchor(t, dir)
	o := testOptions(dir, "n")
	o.Anchor = a
	if segBytes > 0 {
		o.MaxSegmentBytes = segBytes
	}
	for range 2 {
		l := openLog(t, o)
		appendN(t, l, 5)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir, a, o
}

// cutTail removes, as an attacker who can write the trail directory would,
// every record after keep and every digest that covers one of them (and
// every digest after that), leaving a shorter trail that is consistent in
// itself.
func cutTail(t *testing.T, dir string, keep uint64) {
	t.Helper()
	segs, _ := listSegments(dir, "n")
	for _, s := range segs["n"] {
		if s.FirstSeq > keep {
			os.Remove(s.Path)
			continue
		}
		var kept [][]byte
		for _, line := range segLinesOf(t, s.Path) {
			if r, err := parseRecord(bytes.TrimSuffix(line, []byte("\n"))); err == nil && r.Seq <= keep {
				kept = append(kept, line)
			}
		}
		writeLines(t, s.Path, kept)
	}
	p := filepath.Join(dir, digestName("n"))
	var kept [][]byte
	for _, line := range segLinesOf(t, p) {
		d, err := parseDigest(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil || d.LastSeq > keep {
			break
		}
		kept = append(kept, line)
	}
	writeLines(t, p, kept)
}

// TestTruncationDetected cuts the end of a trail in the ways an attacker
// who controls the trail directory can (records with the digests that
// cover them, the last segment with its digests, the digest file, the
// whole directory) and checks that Verify with the anchor reports each as
// truncated, that Open refuses the trail, and that accepting the
// truncation records it and lets the trail verify again.
func TestTruncationDetected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		segBytes int64
		tamper   func(t *testing.T, dir string)
		// hidden: without the anchor the cut verifies (which is why the
		// anchor is needed), even with RequireDigests.
		hidden bool
	}{
		{name: "fail/last-records-and-their-digests", tamper: func(t *testing.T, dir string) { cutTail(t, dir, 7) }, hidden: true},
		{name: "fail/last-session", tamper: func(t *testing.T, dir string) { cutTail(t, dir, 5) }, hidden: true},
		{name: "fail/last-segment-and-its-digests", segBytes: 2500, tamper: func(t *testing.T, dir string) {
			segs, _ := listSegments(dir, "n")
			last := segs["n"][len(segs["n"])-1]
			cutTail(t, dir, last.FirstSeq-1)
			if _, err := os.Stat(last.Path); err == nil {
				t.Fatal("last segment still there")
			}
		}, hidden: true},
		{name: "fail/digest-file", tamper: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, digestName("n")))
		}},
		{name: "fail/whole-directory", tamper: func(t *testing.T, dir string) {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, a, o := anchoredTrail(t, tc.segBytes)
			if rep, err := Verify(dir, VerifyOptions{PublicKeys: pubKeys(), RequireDigests: true, Anchor: a, ExpectNodes: []string{"n"}}); err != nil || !rep.OK() {
				t.Fatalf("untouched trail: %v %+v", err, rep)
			}
			tc.tamper(t, dir)

			rep, err := Verify(dir, VerifyOptions{PublicKeys: pubKeys(), RequireDigests: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() != tc.hidden {
				t.Fatalf("without the anchor: OK = %v, want %v: %+v", rep.OK(), tc.hidden, rep)
			}
			rep, err = Verify(dir, VerifyOptions{PublicKeys: pubKeys(), RequireDigests: true, Anchor: a, ExpectNodes: []string{"n"}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || len(rep.Nodes) != 1 || !rep.Nodes[0].Truncated() {
				t.Fatalf("with the anchor: want TRUNCATED, got %+v", rep)
			}
			t.Logf("reported: %s", rep.Nodes[0].Problems[0])

			if l, err := Open(o); !errors.Is(err, ErrTruncated) {
				if l != nil {
					l.Close()
				}
				t.Fatalf("Open on the cut trail = %v, want ErrTruncated", err)
			}

			// The operator accepts: the loss is recorded and the trail
			// goes on, verifiable again (with a warning).
			o.AcceptTruncation = true
			l := openLog(t, o)
			appendN(t, l, 2)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if n := len(eventsNamed(t, dir, EventTruncationAccepted)); n != 1 {
				t.Fatalf("%d truncation events, want 1", n)
			}
			rep, err = Verify(dir, VerifyOptions{PublicKeys: pubKeys(), RequireDigests: true, Anchor: a, ExpectNodes: []string{"n"}})
			if err != nil || !rep.OK() {
				t.Fatalf("after accepting: %v %+v", err, rep)
			}
			if w := strings.Join(rep.Nodes[0].Warnings, "\n"); !strings.Contains(w, "truncation accepted") {
				t.Fatalf("no warning about the accepted truncation: %q", w)
			}
			// Record numbers are never reused: the trail goes on after
			// the highest that existed.
			if got := rep.Nodes[0].LastSeq; got != 13 {
				t.Fatalf("LastSeq = %d, want 13 (10 lost or kept, 1 truncation event, 2 new)", got)
			}
			// And a later start is not refused again.
			o.AcceptTruncation = false
			l = openLog(t, o)
			l.Close()
			mustVerifyOK(t, dir)
		})
	}
}

// TestAnchorFollowsDigests checks that the anchor names the last digest
// after Close, and (through memAnchor's check) that it never names a
// digest that is not yet in the digest file.
func TestAnchorFollowsDigests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newMemAnchor(t, dir)
	o := testOptions(dir, "n")
	o.Anchor = a
	o.DigestInterval = 5 * time.Millisecond
	l := openLog(t, o)
	for i := range 50 {
		appendN(t, l, 1)
		if i%10 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	l.Close()
	ds, err := readDigests(filepath.Join(dir, digestName("n")))
	if err != nil {
		t.Fatal(err)
	}
	last := ds[len(ds)-1]
	s, ok := a.get("n")
	if !ok || s.DigestSeq != last.DigestSeq || s.DigestHash != last.payloadHash.String() || s.LastSeq != 50 || last.Reason != DigestShutdown {
		t.Fatalf("anchor %+v, last digest %d (%s) %s", s, last.DigestSeq, last.Reason, last.payloadHash)
	}
	if a.saves < 3 {
		t.Fatalf("%d anchor saves for %d digests", a.saves, len(ds))
	}
}

// TestVerifyEmptyDirectory: a directory without a trail is an error only
// when digests are required.
func TestVerifyEmptyDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rep, err := Verify(dir, VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("plain: %v %+v", err, rep)
	}
	rep, err = Verify(dir, VerifyOptions{RequireDigests: true})
	if err != nil || rep.OK() || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemNoTrail {
		t.Fatalf("require digests: %v %+v", err, rep)
	}
	// A node named in --node that has no trail is a problem too.
	rep, err = Verify(dir, VerifyOptions{Node: "n"})
	if err != nil || rep.OK() {
		t.Fatalf("--node n: %v %+v", err, rep)
	}
}

// TestHeartbeatDigests checks, with a fake clock, that a quiet Log writes
// a heartbeat digest once HeartbeatInterval passes without a record, and
// none before.
func TestHeartbeatDigests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := &fakeClock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	o := testOptions(dir, "n")
	o.Now, o.DigestInterval, o.HeartbeatInterval = clk.Now, 5*time.Millisecond, time.Hour
	o.Anchor = newMemAnchor(t, dir)
	l := openLog(t, o)
	defer l.Close()
	appendN(t, l, 1)
	waitDigests := func(n uint64) {
		t.Helper()
		for i := 0; l.Stats().Digests < n; i++ {
			if i > 400 {
				t.Fatalf("%d digests, want %d", l.Stats().Digests, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitDigests(2) // start, and the interval digest of the record
	time.Sleep(50 * time.Millisecond)
	if got := l.Stats().Digests; got != 2 {
		t.Fatalf("%d digests before the heartbeat is due, want 2", got)
	}
	for i := range 3 {
		clk.Add(61 * time.Minute)
		waitDigests(uint64(3 + i))
	}
	ds, _ := readDigests(filepath.Join(dir, digestName("n")))
	for _, d := range ds[2:] {
		if d.Reason != DigestHeartbeat || d.FirstSeq != 0 || d.LastSeq != 1 {
			t.Fatalf("digest %d: reason %s, records %d..%d; want an empty heartbeat", d.DigestSeq, d.Reason, d.FirstSeq, d.LastSeq)
		}
	}
	rep, err := Verify(dir, VerifyOptions{PublicKeys: pubKeys(), Anchor: o.Anchor, Now: clk.Now})
	if err != nil || !rep.OK() {
		t.Fatalf("%v %+v", err, rep)
	}
}

// TestVerifyDigestGap checks that a period without a digest while the node
// ran is reported, and that a stop (shutdown digest, then start) is not.
func TestVerifyDigestGap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		restart bool
		wantOK  bool
	}{
		{"ok/stopped-cleanly", true, true},
		{"fail/silent-while-running", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			clk := &fakeClock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
			o := testOptions(dir, "n")
			// No real tick comes during the test: the fake clock jumps.
			o.Now, o.HeartbeatInterval, o.DigestInterval = clk.Now, time.Hour, time.Minute
			l := openLog(t, o)
			appendN(t, l, 2)
			if tc.restart {
				l.Close()
				clk.Add(3 * time.Hour)
				l = openLog(t, o)
			} else {
				clk.Add(3 * time.Hour) // a node that wrote no digest for 3 hours
			}
			appendN(t, l, 2)
			l.Close()
			rep, err := Verify(dir, VerifyOptions{PublicKeys: pubKeys(), Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() != tc.wantOK {
				t.Fatalf("OK = %v, want %v: %+v", rep.OK(), tc.wantOK, rep.Nodes[0])
			}
			if !tc.wantOK {
				p := rep.Nodes[0].Problems[0]
				if p.Kind != ProblemDigestGap || !strings.Contains(p.Detail, "a period is missing") {
					t.Fatalf("reported %s", p)
				}
			}
		})
	}
}

// TestVerifyCrashRestartWarns: a start digest after a digest that is not a
// shutdown digest (kill -9) is a warning, not a failure.
func TestVerifyCrashRestartWarns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := testOptions(dir, "n")
	l := openLog(t, o)
	appendN(t, l, 2)
	l.Close()
	// What a kill -9 leaves: no shutdown digest.
	p := filepath.Join(dir, digestName("n"))
	lines := segLinesOf(t, p)
	writeLines(t, p, lines[:len(lines)-1])
	l = openLog(t, o)
	l.Close()
	rep := mustVerifyOK(t, dir)
	if w := strings.Join(rep.Nodes[0].Warnings, "\n"); !strings.Contains(w, "without a shutdown digest") {
		t.Fatalf("warnings: %q", w)
	}
}

// TestVerifyReportsTimeRange checks the covered time range in the report.
func TestVerifyReportsTimeRange(t *testing.T) {
	t.Parallel()
	dir := makeTrail(t, 0)
	n := mustVerifyOK(t, dir).Nodes[0]
	if n.From != "2026-01-02T03:04:05Z" || n.Until != "2026-01-02T03:04:09Z" || n.DigestsFrom == "" || n.DigestsUntil == "" {
		t.Fatalf("range: records %q..%q, digests %q..%q", n.From, n.Until, n.DigestsFrom, n.DigestsUntil)
	}
}

// TestRunVerifyDataDir drives "trent audit verify --data-dir" with a stub
// data directory: a cut trail fails with TRUNCATED.
func TestRunVerifyDataDir(t *testing.T) {
	t.Parallel()
	dir, a, _ := anchoredTrail(t, 0)
	pub := filepath.Join(t.TempDir(), "pub.pem")
	b, _ := MarshalPublicKeyPEM(pubKeys()[0])
	os.WriteFile(pub, b, 0o600)
	dd := DataDir{
		TrailDir: func(_, dataDir, _ string) (string, string, error) { return filepath.Join(dataDir, "trail"), "n", nil },
		OpenAnchor: func(_, _, _ string) (Anchor, func(), error) {
			return a, func() {}, nil
		},
	}
	data := t.TempDir()
	if err := os.Rename(dir, filepath.Join(data, "trail")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	args := []string{"verify", "--data-dir", data, "--public-key", pub, "--require-digests"}
	if err := RunWith(args, &out, &out, dd); err != nil {
		t.Fatalf("untouched: %v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "records from 2026-01-02T03:04:05Z") || !strings.Contains(s, "anchor in the store: digest 4") {
		t.Fatalf("report lacks the time range or the anchor:\n%s", s)
	}
	cutTail(t, filepath.Join(data, "trail"), 6)
	out.Reset()
	if err := RunWith(args, &out, &out, dd); !errors.Is(err, ErrVerifyFailed) || !strings.Contains(out.String(), "TRUNCATED") {
		t.Fatalf("cut: %v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())
}

// TestAcceptTruncationNeedsNoNewRecords: Open with AcceptTruncation on an
// intact trail changes nothing.
func TestAcceptTruncationOnIntactTrail(t *testing.T) {
	t.Parallel()
	dir, _, o := anchoredTrail(t, 0)
	o.AcceptTruncation = true
	l := openLog(t, o)
	l.Close()
	if n := len(eventsNamed(t, dir, EventTruncationAccepted)); n != 0 {
		t.Fatalf("%d truncation events on an intact trail", n)
	}
}
