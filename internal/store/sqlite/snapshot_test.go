package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trentkms/trent/internal/store"
)

// TestCopyToWhileWriting: VACUUM INTO makes, while a writer commits
// batches, a copy that Inspect reads as one moment (every acct record at
// one generation) and whose census equals a snapshot of the same records.
func TestCopyToWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, filepath.Join(dir, "trent.db"), Options{})
	defer s.Close()
	ctx := context.Background()
	const accts = 50
	batch := func(gen int) []store.Op {
		var ops []store.Op
		for i := range accts {
			ops = append(ops, store.Op{Kind: "acct", ID: fmt.Sprintf("%03d", i), Data: []byte(strconv.Itoa(gen))})
		}
		return ops
	}
	if err := s.Apply(ctx, batch(0)...); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan int)
	go func() {
		g := 1
		for ; !stop.Load(); g++ {
			if err := s.Apply(ctx, batch(g)...); err != nil {
				t.Error(err)
				break
			}
		}
		done <- g
	}()
	for i := range 3 {
		path := filepath.Join(dir, fmt.Sprintf("copy%d.db", i))
		if err := s.CopyTo(ctx, path); err != nil {
			t.Fatalf("CopyTo: %v", err)
		}
		gens := map[string]bool{}
		var c store.Census
		info, err := Inspect(ctx, path, func(r store.Record) error {
			gens[string(r.Data)] = true
			return c.Add(r)
		})
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if len(gens) != 1 || c.Sums()["acct"].Count != accts || info.Schema != SchemaVersion() {
			t.Fatalf("copy %d: generations %v, census %v, info %+v: not one moment", i, gens, c.Sums(), info)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			if _, err := os.Stat(path + suffix); err == nil {
				t.Errorf("Inspect left %s beside the copy", path+suffix)
			}
		}
	}
	stop.Store(true)
	if g := <-done; g < 2 {
		t.Fatalf("the writer committed %d batches during the copies", g)
	}
	if err := s.CopyTo(ctx, filepath.Join(dir, "copy0.db")); !errors.Is(err, os.ErrExist) {
		t.Fatalf("CopyTo over an existing file: %v, want os.ErrExist", err)
	}
}

func TestInspectRefuses(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openAt(t, filepath.Join(dir, "trent.db"), Options{})
	var ops []store.Op
	for i := range 2000 {
		ops = append(ops, store.Op{Kind: "k", ID: fmt.Sprintf("%05d", i), Data: []byte(strings.Repeat("d", 200))})
	}
	if err := s.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.db")
	if err := s.CopyTo(ctx, good); err != nil {
		t.Fatal(err)
	}
	s.Close()
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0x01
	headerless := append([]byte(nil), data...)
	copy(headerless, "not a database!!")
	tests := []struct {
		name, path string
	}{
		{"fail/byte-changed", write("flipped.db", flipped)},
		{"fail/not-a-database", write("garbage.db", headerless)},
		{"fail/cut", write("cut.db", data[:len(data)/2])},
		{"fail/missing", filepath.Join(dir, "missing.db")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c store.Census
			_, err := Inspect(ctx, tc.path, c.Add)
			if err == nil {
				// A changed byte inside a record's data passes SQLite's
				// check; the census must then differ.
				want := store.Census{}
				if _, err := Inspect(ctx, good, want.Add); err != nil {
					t.Fatal(err)
				}
				if d := store.DiffSums(want.Sums(), c.Sums()); len(d) == 0 {
					t.Fatalf("Inspect accepted %s and its census equals the original's", tc.path)
				}
			}
		})
	}
	t.Run("ok/good", func(t *testing.T) {
		var c store.Census
		if _, err := Inspect(ctx, good, c.Add); err != nil || c.Sums()["k"].Count != 2000 {
			t.Fatalf("Inspect(good): %v, %v", c.Sums(), err)
		}
	})
}
