package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/testenv"
)

func TestWatermarkLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		bytes   int64
		percent float64
		total   uint64
		want    uint64
	}{
		{"ok/bytes-larger", 1 << 30, 5, 10 << 30, 1 << 30},
		{"ok/percent-larger", 1 << 30, 5, 100 << 30, 5 << 30},
		{"ok/percent-off", 1 << 30, -1, 100 << 30, 1 << 30},
		{"ok/both-off", -1, -1, 100 << 30, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &Log{opts: Options{MinFreeBytes: tc.bytes, MinFreePercent: tc.percent}}
			if got := l.watermark(tc.total); got != tc.want {
				t.Fatalf("watermark = %d, want %d", got, tc.want)
			}
		})
	}
}

// countLines counts the occurrences of s in a log.
func countLines(b *syncBuffer, s string) int {
	return strings.Count(b.String(), s)
}

// TestWatermark checks, with an injected free-space source, that crossing
// the watermark makes Health fail, is logged once (not at every check)
// and recorded once per crossing, that calls are still served below it,
// and that Health recovers when space comes back.
func TestWatermark(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var free atomic.Uint64
	free.Store(10 << 30)
	var logs syncBuffer
	o := testOptions(dir, "n")
	o.FreeSpace = func(string) (uint64, uint64, error) { return free.Load(), 100 << 30, nil }
	o.SpaceCheckInterval = 5 * time.Millisecond
	o.MinFreeBytes, o.MinFreePercent = 2<<30, -1
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	l := openLog(t, o)
	if err := l.Health(); err != nil {
		t.Fatalf("Health with 10 GiB free: %v", err)
	}
	waitHealth := func(bad bool) error {
		t.Helper()
		for range 400 {
			if err := l.Health(); (err != nil) == bad {
				return err
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("Health did not become bad=%v", bad)
		return nil
	}
	for round := range 2 {
		free.Store(1 << 30)
		err := waitHealth(true)
		if !strings.Contains(err.Error(), "below the watermark") {
			t.Fatalf("Health = %v", err)
		}
		time.Sleep(60 * time.Millisecond) // a dozen checks below the watermark
		if n := countLines(&logs, "below its free-space watermark"); n != round+1 {
			t.Fatalf("round %d: logged %d times, want %d (once per crossing, at most once a minute)", round, n, round+1)
		}
		appendN(t, l, 1) // still served
		if l.Accepting() != nil {
			t.Fatal("Accepting refuses below the watermark")
		}
		free.Store(10 << 30)
		waitHealth(false)
	}
	l.Close()
	if n := len(eventsNamed(t, dir, EventVolumeLow)); n != 2 {
		t.Fatalf("%d AuditVolumeLow records, want 2 (one per crossing)", n)
	}
	mustVerifyOK(t, dir)
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory and returns
// it. It needs root (CI runs as root); without it the test skips (fails, in
// the full run: package testenv).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		testenv.Missing(t, testenv.Root, fmt.Sprintf("cannot mount a tmpfs (needs root): %v", err))
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillVolume writes a file in dir until the volume is full and returns its
// path.
func fillVolume(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{1}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !isNoSpace(err) {
				t.Fatal(err)
			}
			for { // the last pages
				if _, err := f.Write(chunk[:4096]); err != nil {
					return p
				}
			}
		}
	}
}

// TestVolumeFullAndRecovery fills a small real volume under a Log. The
// batch that finds the volume full is still written, in the space of the
// reserve (its calls have acted), and the Log records AuditVolumeFull
// there; from then on Accepting refuses new calls, while records of calls
// under way are written until the reserve is spent, and then refused
// (ErrVolumeFull), never acknowledged unwritten. Once space is freed the
// Log accepts calls again without a restart and records the recovery.
// Every acknowledged record is in the trail, which verifies.
func TestVolumeFullAndRecovery(t *testing.T) {
	t.Parallel()
	vol := mountTmpfs(t, 8<<20)
	dir := filepath.Join(vol, "trail")
	var logs syncBuffer
	o := testOptions(dir, "n")
	o.MaxSegmentBytes = 1 << 20
	o.ReserveBytes = 256 << 10
	o.SpaceCheckInterval = 10 * time.Millisecond
	o.MinFreeBytes, o.MinFreePercent = 2<<20, -1
	o.Anchor = newMemAnchor(t, dir)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	l := openLog(t, o)
	if st, err := os.Stat(filepath.Join(dir, "reserve-n")); err != nil || st.Size() != o.ReserveBytes {
		t.Fatalf("reserve file: %v", err)
	}
	var acked []string
	appendOne := func(i int) error {
		e := testEvent(i, time.Now())
		e.RequestID = fmt.Sprintf("req-%d", i)
		err := l.Append(context.Background(), e)
		if err == nil {
			acked = append(acked, e.RequestID)
		}
		return err
	}
	for i := range 10 {
		if err := appendOne(i); err != nil {
			t.Fatal(err)
		}
	}
	filler := fillVolume(t, vol)
	i := 10
	for ; l.Accepting() == nil; i++ {
		if i == 20000 {
			t.Fatal("the Log never noticed the full volume")
		}
		if err := appendOne(i); err != nil {
			t.Fatalf("record %d, before the Log refused calls: %v", i, err)
		}
	}
	t.Logf("the volume filled at record %d, which was written from the reserve", i-1)
	if n := len(eventsNamed(t, dir, EventVolumeFull)); n != 1 {
		t.Fatalf("%d AuditVolumeFull records, want 1", n)
	}
	// Calls under way keep appending until the reserve is spent.
	var err error
	j := i
	for ; j < i+5000; j++ {
		if err = appendOne(j); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrVolumeFull) {
		t.Fatalf("after %d more records: Append = %v, want ErrVolumeFull once the reserve is spent", j-i, err)
	}
	t.Logf("%d records of calls under way were written from the reserve", j-i)
	i = j + 1
	if l.Accepting() == nil || !errors.Is(l.Health(), ErrVolumeFull) {
		t.Fatalf("Accepting = %v, Health = %v; want the volume full", l.Accepting(), l.Health())
	}
	if l.Stats().Refused == 0 {
		t.Fatal("no refused record counted")
	}
	if _, err := os.Stat(filepath.Join(dir, "reserve-n")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the reserve was not released: %v", err)
	}

	// Free space: the Log resumes by itself.
	os.Remove(filler)
	deadline := time.Now().Add(10 * time.Second)
	for l.Accepting() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("calls still refused 10 s after space was freed; Health: %v", l.Health())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := appendOne(i + 100); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "reserve-n")); err != nil || st.Size() != o.ReserveBytes {
		t.Fatalf("the reserve was not re-created: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	full, rec := eventsNamed(t, dir, EventVolumeFull), eventsNamed(t, dir, EventVolumeRecovered)
	if len(rec) != 1 || rec[0].Seq < full[0].Seq {
		t.Fatalf("AuditVolumeRecovered: %d records (want 1, after AuditVolumeFull)", len(rec))
	}
	if d := rec[0].Event.ServiceEventDetails["refusedRecords"]; d == nil || d.(float64) < 3 {
		t.Fatalf("recovery event details: %v", rec[0].Event.ServiceEventDetails)
	}
	present := map[string]bool{}
	Read(dir, Filter{}, func(e Entry) error { present[e.Event.RequestID] = true; return nil })
	for _, id := range acked {
		if !present[id] {
			t.Fatalf("acknowledged record %s is not in the trail", id)
		}
	}
	mustVerifyOK(t, dir)
	if n := countLines(&logs, "volume is full"); n < 1 {
		t.Fatalf("the full volume was not logged:\n%s", logs.String())
	}
}

// TestRetentionArchiveAndSize checks retention by total size, moving
// segments to an archive directory: each action is recorded in the trail,
// only digested segments go, and the retained trail verifies.
func TestRetentionArchiveAndSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		archive bool
		signer  bool
		want    string // "archive", "delete" or "" (nothing removed)
	}{
		{"ok/archive", true, true, "archive"},
		{"ok/delete", false, true, "delete"},
		{"ok/no-signer-keeps-all", false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := testOptions(dir, "n")
			if !tc.signer {
				o.Signer = nil
			}
			o.MaxSegmentBytes = 8 << 10
			o.MaxTotalBytes = 20 << 10
			if tc.archive {
				o.ArchiveDir = filepath.Join(t.TempDir(), "archive")
			}
			l := openLog(t, o)
			appendN(t, l, 60) // ~1 KiB each: several segments
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := listSegments(dir, "n")
			var total int64
			for _, s := range segs["n"] {
				st, _ := os.Stat(s.Path)
				total += st.Size()
			}
			events := eventsNamed(t, dir, EventRetention)
			if tc.want == "" {
				if len(events) != 0 || l.Stats().Pruned != 0 {
					t.Fatalf("retention without a signer removed %d segments", l.Stats().Pruned)
				}
				return
			}
			if total > o.MaxTotalBytes+o.MaxSegmentBytes*2 || l.Stats().Pruned == 0 {
				t.Fatalf("%d bytes kept in %d segments, %d pruned", total, len(segs["n"]), l.Stats().Pruned)
			}
			if len(events) == 0 || events[len(events)-1].Event.ServiceEventDetails["action"] != tc.want {
				t.Fatalf("retention records: %d, last %v", len(events), events)
			}
			if tc.archive {
				m, _ := filepath.Glob(filepath.Join(o.ArchiveDir, "trail-n-*.jsonl"))
				if uint64(len(m)) != l.Stats().Pruned {
					t.Fatalf("%d archived files, %d pruned", len(m), l.Stats().Pruned)
				}
			}
			rep := mustVerifyOK(t, dir)
			if rep.Nodes[0].PrunedThrough == 0 || rep.Nodes[0].FirstSeq != rep.Nodes[0].PrunedThrough+1 {
				t.Fatalf("retained trail: %+v", rep.Nodes[0])
			}
		})
	}
}

// TestArchiveAcrossFileSystems moves a segment from a tmpfs to the disk:
// a copy, synced, then the source removed.
func TestArchiveAcrossFileSystems(t *testing.T) {
	t.Parallel()
	src := filepath.Join(mountTmpfs(t, 1<<20), "trail-n-00000000000000000001-20260101T000000Z.jsonl")
	if err := os.WriteFile(src, []byte("records\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := archiveFile(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, filepath.Base(src))); err != nil || string(b) != "records\n" {
		t.Fatalf("archived copy: %q, %v", b, err)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
	if err := os.WriteFile(src, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := archiveFile(src, dst); err == nil {
		t.Fatal("archiveFile overwrote an archived segment")
	}
}
