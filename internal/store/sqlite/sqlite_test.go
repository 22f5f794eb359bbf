package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/storetest"
)

func openAt(t testing.TB, path string, opt Options) *Store {
	t.Helper()
	s, err := OpenOptions(path, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, storetest.Reopen) {
		path := filepath.Join(t.TempDir(), "trent.db")
		return openAt(t, path, Options{}), func(t *testing.T) store.Store { return openAt(t, path, Options{}) }
	})
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		prepare func(t *testing.T, path string)
		wantErr error
	}{
		{name: "ok/new", path: filepath.Join(dir, "new.db")},
		{name: "ok/space in name", path: filepath.Join(dir, "a b%.db")},
		{name: "fail/empty", path: ""},
		{name: "fail/query", path: filepath.Join(dir, "x.db?mode=ro")},
		{name: "fail/missing-dir", path: filepath.Join(dir, "nope", "x.db")},
		{
			name: "fail/newer-schema", path: filepath.Join(dir, "newer.db"),
			prepare: func(t *testing.T, path string) {
				s := openAt(t, path, Options{})
				s.Close()
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec(`UPDATE schema_version SET version = version + 1`); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: errNewerSchema,
		},
		{
			name: "fail/not-a-database", path: filepath.Join(dir, "garbage.db"),
			prepare: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("this is not an SQLite database, not at all, no....."), 0o600); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare(t, tc.path)
			}
			s, err := Open(tc.path)
			if err == nil {
				defer s.Close()
			}
			wantFail := tc.name[:4] == "fail"
			if wantFail != (err != nil) {
				t.Fatalf("Open(%q) error = %v; want failure %v", tc.path, err, wantFail)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open error = %v; want %v", err, tc.wantErr)
			}
			if err == nil {
				var mode string
				if err := s.rdb.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
					t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
				}
				var sync int
				err := s.submit(context.Background(), func(w *writer) error {
					return w.conn.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&sync)
				})
				if err != nil || sync != 2 {
					t.Fatalf("synchronous = %d, %v; want 2 (FULL)", sync, err)
				}
			}
		})
	}
}

func TestClosed(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "c.db"), Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	for name, err := range map[string]error{
		"fail/apply": s.Apply(ctx, store.Op{Kind: "k", ID: "a"}),
		"fail/get":   func() error { _, err := s.Get(ctx, "k", "a"); return err }(),
		"fail/lease": func() error { _, err := s.TryLease(ctx, "l", "h", time.Second); return err }(),
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close = %v; want ErrUnavailable", name, err)
		}
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		opt       Options
		advance   time.Duration
		writes    int
		since     int64
		wantErr   error
		wantCount int
	}{
		{name: "ok/under-limit", opt: Options{FeedKeep: 10}, writes: 10, since: 0, wantCount: 10},
		{name: "fail/keep-truncates", opt: Options{FeedKeep: 10}, writes: 25, since: 14, wantErr: store.ErrFeedTruncated},
		{name: "ok/keep-after-mark", opt: Options{FeedKeep: 10}, writes: 25, since: 15, wantCount: 10},
		{name: "fail/age-truncates", opt: Options{FeedKeep: 1000, FeedMaxAge: time.Hour}, advance: 2 * time.Hour, writes: 5, since: 4, wantErr: store.ErrFeedTruncated},
		{name: "ok/age-after-mark", opt: Options{FeedKeep: 1000, FeedMaxAge: time.Hour}, advance: 2 * time.Hour, writes: 5, since: 5, wantCount: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openAt(t, filepath.Join(t.TempDir(), "p.db"), tc.opt)
			defer s.Close()
			var clock atomic.Int64
			clock.Store(time.Now().UnixNano())
			s.now = func() time.Time { return time.Unix(0, clock.Load()) }
			for i := 0; i < tc.writes; i++ {
				if err := s.Apply(ctx, store.Op{Kind: "k", ID: strconv.Itoa(i)}); err != nil {
					t.Fatal(err)
				}
			}
			clock.Add(int64(tc.advance))
			if err := s.Prune(ctx); err != nil {
				t.Fatalf("Prune: %v", err)
			}
			cs, err := s.Changes(ctx, tc.since, 0)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Changes(%d) = %d, %v; want %v", tc.since, len(cs), err, tc.wantErr)
				}
				return
			}
			if err != nil || len(cs) != tc.wantCount {
				t.Fatalf("Changes(%d) = %d changes, %v; want %d", tc.since, len(cs), err, tc.wantCount)
			}
			if last, _ := s.LastSeq(ctx); last != int64(tc.writes) {
				t.Fatalf("LastSeq = %d after pruning; want %d", last, tc.writes)
			}
		})
	}
}

// TestGroupCommitIsolation checks that in a group of concurrent requests a
// failing precondition fails only its own request.
func TestGroupCommitIsolation(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "g.db"), Options{})
	defer s.Close()
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := store.Op{Kind: "k", ID: strconv.Itoa(i), Data: []byte("x")}
			if i%3 == 0 {
				op.IfVersion = 5 // never matches
			}
			errs[i] = s.Apply(ctx, op)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		_, gerr := s.Get(ctx, "k", strconv.Itoa(i))
		if i%3 == 0 {
			if !errors.Is(err, store.ErrConflict) || !errors.Is(gerr, store.ErrNotFound) {
				t.Fatalf("op %d: Apply = %v, Get = %v; want conflict and not found", i, err, gerr)
			}
		} else if err != nil || gerr != nil {
			t.Fatalf("op %d: Apply = %v, Get = %v; want success", i, err, gerr)
		}
	}
	cs, err := s.Changes(ctx, 0, 0)
	if want := n - (n+2)/3; err != nil || len(cs) != want {
		t.Fatalf("feed has %d changes, %v; want %d", len(cs), err, want)
	}
}

const crashEnv = "TRENT_SQLITE_CRASH_CHILD"

// TestCrashChild is the child of TestCrash: it writes until killed and
// reports each acknowledged write on stdout.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child process of TestCrash")
	}
	s, err := Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				id := strconv.FormatInt(i, 10)
				if err := s.Apply(context.Background(), store.Op{Kind: "k", ID: id, Data: []byte("v" + id), Create: true}); err != nil {
					fmt.Println("apply:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(out, id)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrash kills a writing process with SIGKILL and checks that every
// write it acknowledged survived.
func TestCrash(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in child")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var acked []string
		sc := bufio.NewScanner(stdout)
		deadline := time.After(30 * time.Second)
		target := 300 + round*200
	read:
		for sc.Scan() {
			line := sc.Text()
			if _, err := strconv.Atoi(line); err != nil {
				t.Fatalf("child: %s", line)
			}
			acked = append(acked, line)
			select {
			case <-deadline:
				break read
			default:
			}
			if len(acked) >= target {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Acknowledgements still in the pipe were also acknowledged.
		for sc.Scan() {
			acked = append(acked, sc.Text())
		}
		cmd.Wait()
		if len(acked) < 100 {
			t.Fatalf("round %d: child acknowledged only %d writes", round, len(acked))
		}
		s := openAt(t, path, Options{})
		ctx := context.Background()
		for _, id := range acked {
			if r, err := s.Get(ctx, "k", id); err != nil || string(r.Data) != "v"+id {
				t.Fatalf("round %d: acknowledged write %s lost after SIGKILL: %v", round, id, err)
			}
		}
		rs, err := s.List(ctx, "k", "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.Changes(ctx, 0, 0)
		if err != nil || len(cs) != len(rs) {
			t.Fatalf("round %d: %d records but %d changes (%v): feed and records disagree", round, len(rs), len(cs), err)
		}
		t.Logf("round %d: %d acknowledged, %d stored", round, len(acked), len(rs))
		s.Close()
		// The next round's child creates IDs from 1 again; start from a
		// clean slate of keys so Create does not collide.
		os.Remove(path)
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		return openAt(b, filepath.Join(b.TempDir(), "bench.db"), Options{})
	})
}
