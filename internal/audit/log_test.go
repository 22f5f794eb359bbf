package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAppendConcurrentThenReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, testOptions(dir, "n1"))
	const G, N = 32, 50
	var wg sync.WaitGroup
	errs := make(chan error, G*N)
	for g := range G {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range N {
				e := testEvent(g*N+i, time.Now())
				e.RequestID = "r-" + strings.Repeat("x", g%3) + "-" + itoa(g*N+i)
				if err := l.Append(context.Background(), e); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	st := l.Stats()
	if st.Records != G*N {
		t.Fatalf("Stats.Records = %d, want %d", st.Records, G*N)
	}
	if st.Syncs >= st.Records {
		t.Errorf("no group commit: %d syncs for %d records", st.Syncs, st.Records)
	}
	t.Logf("%d records in %d fsyncs", st.Records, st.Syncs)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Append(context.Background(), testEvent(0, time.Now())); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	rep := mustVerifyOK(t, dir)
	if got := rep.Nodes[0].LastSeq; got != G*N {
		t.Fatalf("LastSeq = %d, want %d", got, G*N)
	}
	if rep.Nodes[0].DigestedThrough != G*N {
		t.Fatalf("shutdown digest covers %d, want %d", rep.Nodes[0].DigestedThrough, G*N)
	}
	// Reopen continues the chain.
	l = openLog(t, testOptions(dir, "n1"))
	appendN(t, l, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep = mustVerifyOK(t, dir)
	if got := rep.Nodes[0].LastSeq; got != G*N+3 {
		t.Fatalf("after reopen LastSeq = %d, want %d", got, G*N+3)
	}
	seen := map[string]bool{}
	if err := Read(dir, Filter{}, func(e Entry) error { seen[e.Event.RequestID] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range G * N {
		g := i / N
		if id := "r-" + strings.Repeat("x", g%3) + "-" + itoa(i); !seen[id] {
			t.Fatalf("acknowledged record %s missing after reopen", id)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    func(dir string) Options
		wantErr string
	}{
		{"ok/defaults", func(d string) Options { return Options{Dir: d, Node: "node-1.a"} }, ""},
		{"ok/with-signer", func(d string) Options { return testOptions(d, "n") }, ""},
		{"fail/bad-node", func(d string) Options { return Options{Dir: d, Node: "a/b"} }, "invalid node ID"},
		{"fail/empty-node", func(d string) Options { return Options{Dir: d} }, "invalid node ID"},
		{"fail/no-dir", func(d string) Options { return Options{Node: "n"} }, "no trail directory"},
		{"fail/locked", func(d string) Options {
			l, err := Open(Options{Dir: d, Node: "n"})
			if err != nil {
				panic(err)
			}
			t.Cleanup(func() { l.Close() })
			return Options{Dir: d, Node: "n"}
		}, "in use by another process"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := Open(tc.opts(t.TempDir()))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				l.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				l.Close()
				t.Fatalf("Open error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestAppendFillsDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, testOptions(dir, "n"))
	e := &Event{EventName: "ListKeys"}
	if err := l.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if e.EventID != "" || e.EventVersion != "" {
		t.Fatalf("Append modified the caller's event: %+v", e)
	}
	l.Close()
	var got *Event
	Read(dir, Filter{}, func(en Entry) error { got = en.Event; return nil })
	if got == nil {
		t.Fatal("event not found")
	}
	if got.EventVersion != "1.11" || got.EventSource != "kms.amazonaws.com" || got.EventCategory != "Management" ||
		got.EventType != "AwsApiCall" || len(got.EventID) != 36 || got.EventTime == "" {
		t.Fatalf("defaults not filled: %+v", got)
	}
}

func TestFailClosedOnWriteError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, testOptions(dir, "n"))
	appendN(t, l, 2)
	// Break the segment's descriptor underneath the writer: the next write
	// fails, and Append must report it instead of acknowledging.
	l.seg.Close()
	if err := l.Append(context.Background(), testEvent(9, time.Now())); err == nil {
		t.Fatal("Append succeeded although the trail could not be written")
	}
	if st := l.Stats(); st.Records != 2 {
		t.Fatalf("Records = %d after failed append, want 2", st.Records)
	}
	l.Close()
	mustVerifyOK(t, dir)
}

func TestAppendContextCanceled(t *testing.T) {
	t.Parallel()
	l := openLog(t, testOptions(t.TempDir(), "n"))
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Append(ctx, testEvent(1, time.Now())); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append = %v, want context.Canceled", err)
	}
}

func TestRotationAndRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		maxBytes     int64
		maxSegs      int
		maxAge       time.Duration
		wantSegs     int
		wantFirstSeq uint64
	}{
		{"ok/hourly", 1 << 20, 0, 0, 11, 1}, // the segment made at Open, then one per hour
		{"ok/by-size", 1500, 0, 0, 20, 1},   // ~1 KiB records: two per segment, and hourly
		{"ok/max-segments", 1 << 20, 3, 0, 3, 0},
		{"ok/max-age", 1 << 20, 0, 90 * time.Minute, 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			o := testOptions(dir, "n")
			o.MaxSegmentBytes = tc.maxBytes
			o.RotateEvery = time.Hour
			o.MaxSegments, o.MaxAge = tc.maxSegs, tc.maxAge
			var mu sync.Mutex
			o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			l := openLog(t, o)
			for i := range 30 {
				if i%3 == 0 {
					mu.Lock()
					now = now.Add(time.Hour) // each third record lands in a new hour
					mu.Unlock()
				}
				if err := l.Append(context.Background(), testEvent(i, now)); err != nil {
					t.Fatal(err)
				}
			}
			records := l.Stats().Records // 30, and one AuditRetention record per retention
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := listSegments(dir, "n")
			rep := mustVerifyOK(t, dir)
			n := rep.Nodes[0]
			if n.LastSeq != records || records < 30 {
				t.Fatalf("LastSeq = %d, want %d (30 calls and the retention records)", n.LastSeq, records)
			}
			retained := 0
			Read(dir, Filter{EventName: EventRetention}, func(Entry) error { retained++; return nil })
			if pruning := tc.maxSegs > 0 || tc.maxAge > 0; pruning != (retained > 0) || pruning != (records > 30) {
				t.Fatalf("%d AuditRetention records in the trail, %d records written; retention configured: %v", retained, records, pruning)
			}
			if tc.wantSegs > 0 && len(segs["n"]) != tc.wantSegs {
				t.Fatalf("%d segments, want %d", len(segs["n"]), tc.wantSegs)
			}
			if tc.maxAge > 0 {
				// Only segments that may hold records newer than 90 min remain.
				if len(segs["n"]) > 3 || n.PrunedThrough == 0 {
					t.Fatalf("max-age kept %d segments, pruned through %d", len(segs["n"]), n.PrunedThrough)
				}
			}
			if tc.maxSegs > 0 && n.PrunedThrough+1 != segs["n"][0].FirstSeq {
				t.Fatalf("PrunedThrough = %d, first segment starts at %d", n.PrunedThrough, segs["n"][0].FirstSeq)
			}
			if tc.wantFirstSeq != 0 && n.FirstSeq != tc.wantFirstSeq {
				t.Fatalf("FirstSeq = %d, want %d", n.FirstSeq, tc.wantFirstSeq)
			}
		})
	}
}

func TestTornTailCutOnOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tail []byte
	}{
		{"ok/partial-record", []byte(`{"seq":6,"prev":"00`)},
		{"ok/zeroed-block", append(make([]byte, 100), '\n')},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := openLog(t, testOptions(dir, "n"))
			appendN(t, l, 5)
			l.Close()
			seg := onlySegment(t, dir)
			f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(tc.tail)
			f.Close()
			l = openLog(t, testOptions(dir, "n"))
			if got := l.Recovery().TornBytes; got != int64(len(tc.tail)) {
				t.Fatalf("TornBytes = %d, want %d", got, len(tc.tail))
			}
			appendN(t, l, 1)
			l.Close()
			if rep := mustVerifyOK(t, dir); rep.Nodes[0].LastSeq != 6 {
				t.Fatalf("LastSeq = %d, want 6", rep.Nodes[0].LastSeq)
			}
		})
	}
}

func TestOpenRefusesTrailBehindDigests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, testOptions(dir, "n"))
	appendN(t, l, 5)
	l.Close() // digest covers 1..5
	seg := onlySegment(t, dir)
	b, _ := os.ReadFile(seg)
	lines := bytes.SplitAfter(b, []byte("\n"))
	os.WriteFile(seg, bytes.Join(lines[:3], nil), 0o600)
	if l, err := Open(testOptions(dir, "n")); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "records 4..5 are missing") {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open = %v, want refusal", err)
	}
}

func TestStdoutSink(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	o := testOptions(t.TempDir(), "n")
	o.Stdout = &buf
	l := openLog(t, o)
	appendN(t, l, 4)
	l.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("stdout got %d lines, want 4", len(lines))
	}
	var e Event
	if err := json.Unmarshal([]byte(lines[3]), &e); err != nil || e.RequestID != "req-3" {
		t.Fatalf("stdout line 4 = %q (%v)", lines[3], err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func onlySegment(t testing.TB, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "trail-*.jsonl"))
	if len(m) != 1 {
		t.Fatalf("want 1 segment, have %v", m)
	}
	return m[0]
}

// TestReopenWithEmptyCurrentSegment covers a crash between creating a new
// segment and writing its first record: the chain continues from the last
// record of the previous segment.
func TestReopenWithEmptyCurrentSegment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, testOptions(dir, "n"))
	appendN(t, l, 4)
	l.Close()
	empty := filepath.Join(dir, segmentName("n", 5, time.Now()))
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, testOptions(dir, "n"))
	appendN(t, l, 2)
	l.Close()
	if rep := mustVerifyOK(t, dir); rep.Nodes[0].LastSeq != 6 || rep.Nodes[0].Segments != 2 {
		t.Fatalf("LastSeq = %d, Segments = %d; want 6, 2", rep.Nodes[0].LastSeq, rep.Nodes[0].Segments)
	}
	if st, _ := os.Stat(empty); st.Size() == 0 {
		t.Fatal("records were not appended to the empty current segment")
	}
}

// TestPreallocatedTail checks the zero-filled space a live segment keeps
// ahead of its writer: the live trail verifies and reads in full while the
// tail is there, a restart cuts it, and a closed segment ends with its last
// record.
func TestPreallocatedTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, testOptions(dir, "n"))
	for i := 0; i < 10; i++ {
		if err := l.Append(context.Background(), &Event{EventName: "Encrypt"}); err != nil {
			t.Fatal(err)
		}
	}
	seg := l.segInfo.Path
	st, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < preallocChunk || l.segSize >= st.Size() {
		t.Fatalf("live segment is %d bytes for %d written: no preallocated tail", st.Size(), l.segSize)
	}
	rep, err := Verify(dir, VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("live trail with a preallocated tail does not verify: %v %+v", err, rep)
	}
	n := 0
	Read(dir, Filter{}, func(Entry) error { n++; return nil })
	if n != 10 {
		t.Fatalf("read %d records from the live trail, want 10", n)
	}
	written := l.segSize
	l.Close()
	if st, _ := os.Stat(seg); st.Size() != written {
		t.Fatalf("closed segment is %d bytes, want %d (its records)", st.Size(), written)
	}
}

// TestDirectWrites checks the O_DIRECT path: batches of every size, which
// end anywhere inside a block, rewrite the partial last block without
// damaging the records in it, across a reopen (which reloads that block
// from disk), and the trail reads and verifies in full.
func TestDirectWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if f, err := os.OpenFile(filepath.Join(dir, "probe"), os.O_CREATE|os.O_WRONLY|syscall.O_DIRECT, 0o600); err != nil {
		t.Skipf("this file system refuses O_DIRECT: %v", err)
	} else {
		f.Close()
	}
	total := 0
	for round := 0; round < 3; round++ {
		l := openLog(t, testOptions(dir, "n"))
		if l.dseg == nil {
			t.Fatal("O_DIRECT is available but the log writes through the page cache")
		}
		for _, n := range []int{1, 3, 7, 40, 2, 64} {
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					e := testEvent(total+i, time.Now())
					e.UserAgent = strings.Repeat("u", (total+i)*37%3000) // records of many sizes
					if err := l.Append(context.Background(), e); err != nil {
						t.Error(err)
					}
				}(i)
			}
			wg.Wait()
			total += n
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rep := mustVerifyOK(t, dir)
	n := 0
	if err := Read(dir, Filter{}, func(Entry) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != total {
		t.Fatalf("read %d records, want %d (verify: %+v)", n, total, rep)
	}
}

// TestPreparedSegments checks that the next segment is prepared in the
// background once the current one is half full, that rotation renames it
// into place (a live segment then has the prepared size, not reserve's
// 4 MiB), and that no temporary file outlives Close.
func TestPreparedSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := testOptions(dir, "n")
	o.MaxSegmentBytes = 256 << 10
	l := openLog(t, o)
	next := filepath.Join(dir, "next-n.tmp")
	waitPrepared := func() {
		t.Helper()
		for i := 0; i < 500; i++ {
			if st, err := os.Stat(next); err == nil && st.Size() == o.MaxSegmentBytes {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("the next segment was never prepared")
	}
	n := 0
	for l.Stats().Rotations < 4 {
		appendN(t, l, 1)
		n++
		if l.segSize >= o.MaxSegmentBytes/2 && l.Stats().Rotations < 3 {
			waitPrepared() // so the coming rotation finds it ready
		}
		if n > 10000 {
			t.Fatal("no rotations")
		}
	}
	if st, err := os.Stat(l.segInfo.Path); err != nil || st.Size() != o.MaxSegmentBytes {
		t.Fatalf("live segment after rotation: %v, %v; want the prepared %d bytes", st.Size(), err, o.MaxSegmentBytes)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(next); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("prepared file left after Close: %v", err)
	}
	mustVerifyOK(t, dir)
	got := 0
	Read(dir, Filter{}, func(Entry) error { got++; return nil })
	if got != n {
		t.Fatalf("read %d records, want %d", got, n)
	}
}
