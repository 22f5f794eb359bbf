package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeTrail writes records 1..10 for node "n": two sessions of five, so
// there are digests 1 (start, 0 records), 2 (shutdown, through 5), 3
// (start) and 4 (shutdown, through 10), and with small segments records
// span several files (segBytes 0 keeps one segment).
func makeTrail(t *testing.T, segBytes int64) string {
	t.Helper()
	dir := t.TempDir()
	for range 2 {
		o := testOptions(dir, "n")
		if segBytes > 0 {
			o.MaxSegmentBytes = segBytes
		}
		l := openLog(t, o)
		appendN(t, l, 5)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func segLinesOf(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func editSegment(f func(lines [][]byte) [][]byte) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		p := onlySegment(t, dir)
		writeLines(t, p, f(segLinesOf(t, p)))
	}
}

func editDigests(f func(lines [][]byte) [][]byte) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		p := filepath.Join(dir, digestName("n"))
		writeLines(t, p, f(segLinesOf(t, p)))
	}
}

func TestVerifyTampering(t *testing.T) {
	t.Parallel()
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name     string
		segBytes int64
		tamper   func(*testing.T, string)
		kind     string
		seq      uint64
		line     int
		detail   string
	}{
		{name: "ok/untouched", tamper: func(*testing.T, string) {}},
		{name: "fail/modify-byte-in-event", tamper: editSegment(func(l [][]byte) [][]byte {
			l[3] = bytes.Replace(l[3], []byte(`"Decrypt"`), []byte(`"Decryp7"`), 1)
			return l
		}), kind: ProblemModified, seq: 4, line: 4, detail: "does not match its hash"},
		{name: "fail/modify-byte-in-hash", tamper: editSegment(func(l [][]byte) [][]byte {
			i := bytes.Index(l[6], []byte(`"hash":"`)) + 8
			l[6][i] ^= 1
			return l
		}), kind: ProblemModified, seq: 7, line: 7},
		{name: "fail/modify-seq", tamper: editSegment(func(l [][]byte) [][]byte {
			l[5] = bytes.Replace(l[5], []byte(`{"seq":6,`), []byte(`{"seq":9,`), 1)
			return l
		}), kind: ProblemModified, seq: 6, line: 6},
		{name: "fail/modify-whitespace", tamper: editSegment(func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`{"seq":2,`), []byte(`{"seq":2, `), 1)
			return l
		}), kind: ProblemModified, seq: 2, line: 2, detail: "not a well-formed record"},
		{name: "fail/delete-line", tamper: editSegment(func(l [][]byte) [][]byte {
			return append(l[:3:3], l[4:]...)
		}), kind: ProblemRemoved, seq: 4, line: 4, detail: "record 4 is missing"},
		{name: "fail/delete-first-line", tamper: editSegment(func(l [][]byte) [][]byte { return l[1:] }),
			kind: ProblemRemoved, seq: 1, line: 1},
		{name: "fail/delete-three-lines", tamper: editSegment(func(l [][]byte) [][]byte {
			return append(l[:2:2], l[5:]...)
		}), kind: ProblemRemoved, seq: 3, line: 3, detail: "records 3..5 are missing"},
		{name: "fail/insert-duplicate-line", tamper: editSegment(func(l [][]byte) [][]byte {
			return append(l[:5:5], append([][]byte{l[4]}, l[5:]...)...)
		}), kind: ProblemInserted, seq: 5, line: 6, detail: "repeats record 5"},
		{name: "fail/insert-garbage-line", tamper: editSegment(func(l [][]byte) [][]byte {
			return append(l[:5:5], append([][]byte{[]byte("{\"eventName\":\"Decrypt\"}\n")}, l[5:]...)...)
		}), kind: ProblemModified, seq: 6, line: 6, detail: "not a well-formed record"},
		{name: "fail/insert-forged-chained-line", tamper: editSegment(func(l [][]byte) [][]byte {
			r6, _ := parseRecord(bytes.TrimSuffix(l[5], []byte("\n")))
			ev := []byte(`{"eventName":"Forged"}`)
			forged := appendRecord(nil, 7, r6.Hash, chainHash(r6.Hash, 7, ev), ev)
			return append(l[:6:6], append([][]byte{forged}, l[6:]...)...)
		}), kind: ProblemInserted, seq: 7, line: 8, detail: "two records claim seq 7"},
		{name: "fail/insert-old-line", tamper: editSegment(func(l [][]byte) [][]byte {
			return append(l[:6:6], append([][]byte{l[1]}, l[6:]...)...)
		}), kind: ProblemInserted, seq: 7, line: 7, detail: "not part of the chain"},
		{name: "fail/swap-two-lines", tamper: editSegment(func(l [][]byte) [][]byte {
			l[3], l[4] = l[4], l[3]
			return l
		}), kind: ProblemReordered, seq: 4, line: 4, detail: "records 4 and 5 are swapped"},
		{name: "fail/truncate-mid-line", tamper: func(t *testing.T, dir string) {
			p := onlySegment(t, dir)
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-40)
		}, kind: ProblemTruncated, seq: 10, line: 10, detail: "mid-record"},
		{name: "fail/truncate-whole-lines", tamper: editSegment(func(l [][]byte) [][]byte { return l[:7] }),
			kind: ProblemTruncated, seq: 8, line: 8, detail: "records 8..10, covered by signed digest 4"},
		{name: "fail/rewrite-chain-from-record-7", tamper: editSegment(func(l [][]byte) [][]byte {
			r6, _ := parseRecord(bytes.TrimSuffix(l[5], []byte("\n")))
			prev := r6.Hash
			for i := 6; i < len(l); i++ {
				r, _ := parseRecord(bytes.TrimSuffix(l[i], []byte("\n")))
				ev := bytes.Replace(r.Event, []byte("u0"), []byte("u9"), -1)
				h := chainHash(prev, r.Seq, ev)
				l[i] = appendRecord(nil, r.Seq, prev, h, ev)
				prev = h
			}
			return l
		}), kind: ProblemModified, seq: 10, line: 10, detail: "differs from signed digest 4"},
		{name: "fail/delete-middle-segment", segBytes: 2500, tamper: func(t *testing.T, dir string) {
			segs, _ := listSegments(dir, "n")
			os.Remove(segs["n"][1].Path)
		}, kind: ProblemRemoved, seq: 4, detail: "a segment was deleted"},
		{name: "fail/delete-first-segment", segBytes: 2500, tamper: func(t *testing.T, dir string) {
			segs, _ := listSegments(dir, "n")
			os.Remove(segs["n"][0].Path)
		}, kind: ProblemRemoved, seq: 1, detail: "records 1..3 are missing"},
		{name: "fail/delete-last-segment", segBytes: 2500, tamper: func(t *testing.T, dir string) {
			segs, _ := listSegments(dir, "n")
			os.Remove(segs["n"][len(segs["n"])-1].Path)
		}, kind: ProblemTruncated, detail: "covered by signed digest"},
		{name: "fail/forge-digest-payload", tamper: editDigests(func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`\"lastSeq\":5`), []byte(`\"lastSeq\":4`), 1)
			l[1] = bytes.Replace(l[1], []byte(`"lastSeq":5`), []byte(`"lastSeq":4`), 1)
			return l
		}), kind: ProblemDigestSignature, line: 2, detail: "does not verify"},
		{name: "fail/digest-signed-by-other-key", tamper: editDigests(func(l [][]byte) [][]byte {
			var dl digestLine
			json.Unmarshal(l[1], &dl)
			var d Digest
			json.Unmarshal(dl.Digest, &d)
			line, _, _, _ := signDigest(otherKey, &d)
			l[1] = line
			return l
		}), kind: ProblemDigestSignature, line: 2},
		{name: "fail/delete-digest", tamper: editDigests(func(l [][]byte) [][]byte { return l[1:] }),
			kind: ProblemDigestGap, line: 1, detail: "digests 1..1 are missing"},
		{name: "fail/truncate-digest-file", tamper: func(t *testing.T, dir string) {
			p := filepath.Join(dir, digestName("n"))
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-5)
		}, kind: ProblemTruncated, line: 4, detail: "digest"},
	}
	pub := []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := makeTrail(t, tc.segBytes)
			tc.tamper(t, dir)
			rep, err := Verify(dir, VerifyOptions{PublicKeys: pub})
			if err != nil {
				t.Fatal(err)
			}
			probs := rep.Nodes[0].Problems
			if tc.kind == "" {
				if len(probs) != 0 {
					t.Fatalf("unexpected problems: %v", probs)
				}
				return
			}
			if len(probs) == 0 {
				t.Fatalf("tampering not detected")
			}
			p := probs[0]
			t.Logf("reported: %s", p)
			if p.Kind != tc.kind || (tc.seq != 0 && p.Seq != tc.seq) || (tc.line != 0 && p.Line != tc.line) ||
				!strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("got %s; want kind %s seq %d line %d detail ~%q", p, tc.kind, tc.seq, tc.line, tc.detail)
			}
		})
	}
}

func TestVerifyKeysFromDirectoryWarns(t *testing.T) {
	t.Parallel()
	dir := makeTrail(t, 0)
	rep, err := Verify(dir, VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %v, %v", rep, err)
	}
	if w := strings.Join(rep.Nodes[0].Warnings, ";"); !strings.Contains(w, "found in the trail directory") {
		t.Fatalf("warnings = %q", w)
	}
}

func TestVerifyWithoutDigests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		require bool
		wantOK  bool
	}{
		{"ok/warns", false, true},
		{"fail/required", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := openLog(t, Options{Dir: dir, Node: "n"})
			appendN(t, l, 3)
			l.Close()
			rep, err := Verify(dir, VerifyOptions{RequireDigests: tc.require})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() != tc.wantOK || rep.Nodes[0].LastSeq != 3 {
				t.Fatalf("OK = %v, LastSeq = %d: %+v", rep.OK(), rep.Nodes[0].LastSeq, rep.Nodes[0])
			}
		})
	}
}
