package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	// More than two pages, and a record of another kind that must not
	// be seen.
	const n = 450
	ops := make([]store.Op, 0, n+1)
	for i := range n {
		ops = append(ops, store.Op{Kind: "k", ID: fmt.Sprintf("%04d", i), Data: []byte("x")})
	}
	ops = append(ops, store.Op{Kind: "other", ID: "0001", Data: []byte("x")})
	if err := st.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := store.Each(ctx, st, "k", func(r store.Record) error {
		if r.Kind != "k" {
			t.Errorf("record of kind %q", r.Kind)
		}
		seen = append(seen, r.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n || seen[0] != "0000" || seen[n-1] != fmt.Sprintf("%04d", n-1) {
		t.Fatalf("saw %d records (%v ... %v), want %d in order", len(seen), seen[:1], seen[len(seen)-1:], n)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i-1] >= seen[i] {
			t.Fatalf("out of order or repeated: %q then %q", seen[i-1], seen[i])
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := store.Each(ctx, st, "k", func(store.Record) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Each = %v after %d calls, want fn's error after 1", err, calls)
	}
}

// TestEachIn: EachIn sees, over several pages, every record of its kind
// whose ID has the prefix, and none other.
func TestEachIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	const n = 450
	ops := make([]store.Op, 0, n+4)
	for i := range n {
		ops = append(ops, store.Op{Kind: "k", ID: fmt.Sprintf("a/%04d", i), Data: []byte("x")})
	}
	for _, id := range []string{"a", "a0", "b/0000", "`"} {
		ops = append(ops, store.Op{Kind: "k", ID: id, Data: []byte("x")})
	}
	ops = append(ops, store.Op{Kind: "other", ID: "a/0000", Data: []byte("x")})
	if err := st.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := store.EachIn(ctx, st, "k", "a/", func(r store.Record) error {
		if r.Kind != "k" {
			t.Errorf("record of kind %q", r.Kind)
		}
		seen = append(seen, r.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n || seen[0] != "a/0000" || seen[n-1] != fmt.Sprintf("a/%04d", n-1) {
		t.Fatalf("saw %d records (%v ... %v), want %d", len(seen), seen[:1], seen[len(seen)-1:], n)
	}
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	upper := func(data []byte) ([]byte, bool, error) {
		if string(data) == "NEW" {
			return nil, false, nil
		}
		return []byte("NEW"), true, nil
	}
	read := func(t *testing.T, st store.Store) store.Record {
		t.Helper()
		rs, err := st.List(ctx, "k", "", "", 0)
		if err != nil || len(rs) != 1 {
			t.Fatalf("List = %v, %v", rs, err)
		}
		return rs[0]
	}
	t.Run("ok/written", func(t *testing.T) {
		st := openSQLite(t)
		if err := st.Apply(ctx, store.Op{Kind: "k", ID: "a", Data: []byte("old")}); err != nil {
			t.Fatal(err)
		}
		var l store.Locks
		w, err := store.Rewrite(ctx, st, &l, read(t, st), upper)
		if r := read(t, st); err != nil || !w || string(r.Data) != "NEW" || r.Version != 2 {
			t.Fatalf("Rewrite = %v, %v; record %q v%d", w, err, r.Data, r.Version)
		}
	})
	t.Run("ok/unchanged-not-written", func(t *testing.T) {
		st := openSQLite(t)
		if err := st.Apply(ctx, store.Op{Kind: "k", ID: "a", Data: []byte("NEW")}); err != nil {
			t.Fatal(err)
		}
		w, err := store.Rewrite(ctx, st, nil, read(t, st), upper)
		if r := read(t, st); err != nil || w || r.Version != 1 {
			t.Fatalf("Rewrite = %v, %v; record v%d", w, err, r.Version)
		}
	})
	t.Run("ok/changed-meanwhile-reread", func(t *testing.T) {
		// The scan read version 1; another writer made version 2. The
		// rewrite must start from version 2, not overwrite it.
		st := openSQLite(t)
		if err := st.Apply(ctx, store.Op{Kind: "k", ID: "a", Data: []byte("old")}); err != nil {
			t.Fatal(err)
		}
		stale := read(t, st)
		if err := st.Apply(ctx, store.Op{Kind: "k", ID: "a", Data: []byte("other")}); err != nil {
			t.Fatal(err)
		}
		var saw []string
		w, err := store.Rewrite(ctx, st, nil, stale, func(data []byte) ([]byte, bool, error) {
			saw = append(saw, string(data))
			return append([]byte("re:"), data...), true, nil
		})
		if r := read(t, st); err != nil || !w || string(r.Data) != "re:other" || len(saw) != 2 || saw[0] != "old" {
			t.Fatalf("Rewrite = %v, %v; record %q; fn saw %q", w, err, r.Data, saw)
		}
	})
	t.Run("ok/deleted-meanwhile", func(t *testing.T) {
		st := openSQLite(t)
		if err := st.Apply(ctx, store.Op{Kind: "k", ID: "a", Data: []byte("old")}); err != nil {
			t.Fatal(err)
		}
		stale := read(t, st)
		if err := st.Apply(ctx, store.Op{Kind: "k", ID: "a", Delete: true}); err != nil {
			t.Fatal(err)
		}
		w, err := store.Rewrite(ctx, st, nil, stale, upper)
		if rs, _ := st.List(ctx, "k", "", "", 0); err != nil || w || len(rs) != 0 {
			t.Fatalf("Rewrite = %v, %v; %d records", w, err, len(rs))
		}
	})
	t.Run("fail/fn-error", func(t *testing.T) {
		st := openSQLite(t)
		if err := st.Apply(ctx, store.Op{Kind: "k", ID: "a", Data: []byte("old")}); err != nil {
			t.Fatal(err)
		}
		bad := errors.New("bad")
		w, err := store.Rewrite(ctx, st, nil, read(t, st), func([]byte) ([]byte, bool, error) { return nil, false, bad })
		if r := read(t, st); !errors.Is(err, bad) || w || string(r.Data) != "old" {
			t.Fatalf("Rewrite = %v, %v; record %q", w, err, r.Data)
		}
	})
}
