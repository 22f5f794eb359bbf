package keyring

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errDown = errors.New("store down")

type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) add(d time.Duration) { c.t.Add(int64(d)) }
func newClock() *fakeClock               { c := &fakeClock{}; c.t.Store(time.Unix(1e9, 0).UnixNano()); return c }
func counter(n *atomic.Int64, val string) Loader[string] {
	return func(ctx context.Context, id string) (string, int64, error) { return val + id, n.Add(1), nil }
}

func TestGetLoadsOnceAndCaches(t *testing.T) {
	t.Parallel()
	var loads atomic.Int64
	r := New(counter(&loads, "v-"), Options{})
	for i := 0; i < 3; i++ {
		v, err := r.Get(context.Background(), "k")
		if err != nil || v != "v-k" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if loads.Load() != 1 {
		t.Fatalf("loaded %d times, want 1", loads.Load())
	}
}

func TestConcurrentMissesShareOneLoad(t *testing.T) {
	t.Parallel()
	var loads atomic.Int64
	release := make(chan struct{})
	r := New(func(ctx context.Context, id string) (string, int64, error) {
		<-release
		loads.Add(1)
		return "x", 1, nil
	}, Options{})
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); r.Get(context.Background(), "k") }()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if loads.Load() != 1 {
		t.Fatalf("loaded %d times, want 1", loads.Load())
	}
}

func TestExpiryAndInvalidate(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var loads atomic.Int64
	r := New(counter(&loads, ""), Options{MaxAge: time.Second, Now: clk.now})
	r.Get(context.Background(), "k")
	clk.add(500 * time.Millisecond)
	r.Get(context.Background(), "k")
	if loads.Load() != 1 {
		t.Fatalf("reloaded before MaxAge")
	}
	clk.add(600 * time.Millisecond)
	r.Get(context.Background(), "k")
	if loads.Load() != 2 {
		t.Fatalf("not reloaded after MaxAge: %d loads", loads.Load())
	}
	r.Invalidate("k")
	r.Get(context.Background(), "k")
	if loads.Load() != 3 {
		t.Fatalf("not reloaded after Invalidate: %d loads", loads.Load())
	}
	r.Purge()
	if r.Len() != 0 {
		t.Fatalf("Purge left %d entries", r.Len())
	}
}

func TestGraceServesStaleOnlyWhenUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		err       error
		after     time.Duration
		wantStale bool
	}{
		{"ok/unavailable-within-grace", errDown, 1500 * time.Millisecond, true},
		{"fail/unavailable-past-grace", errDown, 3500 * time.Millisecond, false},
		{"fail/definite-error-not-masked", errors.New("not found"), 1500 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			fail := atomic.Bool{}
			r := New(func(ctx context.Context, id string) (string, int64, error) {
				if fail.Load() {
					return "", 0, tc.err
				}
				return "fresh", 1, nil
			}, Options{MaxAge: time.Second, Grace: 2 * time.Second, Now: clk.now, Unavailable: func(err error) bool { return errors.Is(err, errDown) }})
			r.Get(context.Background(), "k")
			fail.Store(true)
			clk.add(tc.after)
			v, err := r.Get(context.Background(), "k")
			if tc.wantStale != (err == nil && v == "fresh") {
				t.Fatalf("Get = %q, %v; want stale=%v", v, err, tc.wantStale)
			}
		})
	}
}

func TestPutKeepsNewerVersion(t *testing.T) {
	t.Parallel()
	var loads atomic.Int64
	r := New(counter(&loads, ""), Options{})
	r.Put("k", "v5", 5)
	r.Put("k", "v3", 3)
	if v, _ := r.Get(context.Background(), "k"); v != "v5" {
		t.Fatalf("older Put replaced newer version: %q", v)
	}
}

// TestPutAtAfterInvalidate: a writer's value is not cached when an
// invalidation (the change feed reporting a newer write by another node)
// came between its store write and its PutAt.
func TestPutAtAfterInvalidate(t *testing.T) {
	t.Parallel()
	var loads atomic.Int64
	r := New(counter(&loads, "stored-"), Options{})
	epoch := r.Epoch()
	r.PutAt("k", "mine", 2, epoch)
	if v, _ := r.Get(context.Background(), "k"); v != "mine" {
		t.Fatalf("PutAt without invalidation: Get = %q", v)
	}
	epoch = r.Epoch()
	r.Invalidate("k") // a newer write elsewhere, reported first
	r.PutAt("k", "mine-v3", 3, epoch)
	if v, _ := r.Get(context.Background(), "k"); v != "stored-k" || loads.Load() != 1 {
		t.Fatalf("PutAt after an invalidation: Get = %q after %d loads; want the stored value", v, loads.Load())
	}
	epoch = r.Epoch()
	r.Purge()
	r.PutAt("k", "mine-v4", 4, epoch)
	if r.Len() != 0 {
		t.Fatal("PutAt after a purge cached its value")
	}
}

// BenchmarkGetHit measures the hot-path key lookup with 100,000 cached keys.
func BenchmarkGetHit(b *testing.B) {
	r := New(func(ctx context.Context, id string) (string, int64, error) { return id, 1, nil }, Options{MaxAge: time.Hour})
	ids := make([]string, 100000)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		r.Put(ids[i], ids[i], 1)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := r.Get(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
			i += 7919
		}
	})
}

// TestInvalidateDuringLoad checks that a value read before a change is not
// cached when the change's invalidation arrives while the load runs, and
// that invalidating another ID does not discard the load.
func TestInvalidateDuringLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		invalidate string
		wantLoads  int64
	}{
		{"ok/other-id-keeps-load", "other", 1},
		{"ok/same-id-discards-load", "k", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var loads atomic.Int64
			started, release := make(chan struct{}, 1), make(chan struct{})
			r := New(func(ctx context.Context, id string) (string, int64, error) {
				if loads.Add(1) == 1 {
					started <- struct{}{}
					<-release
				}
				return "v", 1, nil
			}, Options{})
			done := make(chan struct{})
			go func() { r.Get(context.Background(), "k"); close(done) }()
			<-started
			r.Invalidate(tc.invalidate)
			close(release)
			<-done
			r.Get(context.Background(), "k")
			if got := loads.Load(); got != tc.wantLoads {
				t.Fatalf("loads = %d, want %d", got, tc.wantLoads)
			}
		})
	}
}

func TestStats(t *testing.T) {
	loads := 0
	r := New(func(_ context.Context, id string) (int, int64, error) {
		loads++
		if id == "missing" {
			return 0, 0, errors.New("not found")
		}
		return 1, 1, nil
	}, Options{})
	ctx := context.Background()
	r.Get(ctx, "a") // miss, load
	r.Get(ctx, "a") // hit
	r.Get(ctx, "a") // hit
	r.Get(ctx, "missing")
	st := r.Stats()
	want := Stats{Entries: 1, Hits: 2, Misses: 2, Loads: 2, LoadErrors: 1}
	if st != want || loads != 2 {
		t.Fatalf("stats %+v (loads %d), want %+v", st, loads, want)
	}
}
