package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// copyDir copies a backup so that each case damages its own.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	files, err := listFiles(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		dst := filepath.Join(to, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(filepath.Join(from, filepath.FromSlash(f)), dst); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDamagedBackupRefused: one byte changed in any file, a file missing
// or added, is refused by Verify and by Restore, which then writes
// nothing.
func TestDamagedBackupRefused(t *testing.T) {
	root := newRoot(t, 1)
	in := sqliteInstall(t, root)
	in.populate(t, 40)
	good := filepath.Join(t.TempDir(), "good")
	m, err := Create(context.Background(), in.source(), good)
	if err != nil {
		t.Fatal(err)
	}
	type damage struct {
		name string
		do   func(t *testing.T, dir string)
		want string
	}
	flip := func(rel string, at func(n int) int) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[at(len(b))] ^= 0x20
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	middle := func(n int) int { return n / 2 }
	var cases []damage
	for _, f := range m.Files {
		cases = append(cases, damage{"fail/byte-changed/" + f.Path, flip(f.Path, middle), f.Path + " has changed"})
		cases = append(cases, damage{"fail/missing/" + f.Path, func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, filepath.FromSlash(f.Path)))
		}, f.Path + " is missing"})
	}
	cases = append(cases,
		damage{"fail/byte-changed/manifest", flip(ManifestFile, func(n int) int { return n / 3 }), "manifest.json"},
		damage{"fail/missing/manifest", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ManifestFile)) }, "has no manifest.json"},
		damage{"fail/added-file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "audit", "trail-node1-00000000000000000999-20260101T000000Z.jsonl"), []byte("{}\n"), 0o600)
		}, "is not in the manifest"},
	)
	if len(m.Files) < 5 {
		t.Fatalf("the backup has %d files, expected the store, a segment, the digests, a public key and the signing key: %+v", len(m.Files), m.Files)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			copyDir(t, good, dir)
			tc.do(t, dir)
			_, err := Verify(context.Background(), dir, VerifyOptions{})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify: %v; want ErrCorrupt naming %q", err, tc.want)
			}
			tgt, _ := sqliteTarget(t, root)
			if _, err := Restore(context.Background(), dir, tgt); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Restore: %v; want ErrCorrupt", err)
			}
			if _, err := os.Stat(tgt.DataDir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a refused restore made %s", tgt.DataDir)
			}
		})
	}
	t.Run("ok/undamaged-copy", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "b")
		copyDir(t, good, dir)
		if _, err := Verify(context.Background(), dir, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/root-key-unavailable", func(t *testing.T) {
		tgt, _ := sqliteTarget(t, newRoot(t, 2))
		_, err := Restore(context.Background(), good, tgt)
		var mm *reseal.MismatchError
		if !errors.As(err, &mm) || mm.Need != root.CurrentID() || !strings.Contains(err.Error(), "restore refused") {
			t.Fatalf("Restore with another root key: %v; want a refusal naming root key %s", err, root.CurrentID())
		}
		if _, err := os.Stat(tgt.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused restore made %s", tgt.DataDir)
		}
	})
	t.Run("fail/data-dir-not-empty", func(t *testing.T) {
		tgt, _ := sqliteTarget(t, root)
		os.MkdirAll(tgt.DataDir, 0o700)
		os.WriteFile(filepath.Join(tgt.DataDir, "something"), nil, 0o600)
		if _, err := Restore(context.Background(), good, tgt); err == nil || !strings.Contains(err.Error(), "is not empty") {
			t.Fatalf("Restore into a used data directory: %v", err)
		}
	})
	t.Run("fail/database-exists", func(t *testing.T) {
		tgt, _ := sqliteTarget(t, root)
		tgt.SQLitePath = filepath.Join(t.TempDir(), "other.db")
		os.WriteFile(tgt.SQLitePath, nil, 0o600)
		if _, err := Restore(context.Background(), good, tgt); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Fatalf("Restore over an existing database: %v", err)
		}
	})
	t.Run("fail/database-not-empty", func(t *testing.T) {
		tgt, _ := sqliteTarget(t, root)
		st, _ := pgStore(t)
		if err := st.Apply(context.Background(), store.Op{Kind: "key", ID: "k", Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		tgt.SQLitePath = ""
		tgt.OpenStore = func() (store.Store, error) { return st, nil }
		if _, err := Restore(context.Background(), good, tgt); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("Restore into a database that is not empty: %v", err)
		}
		if _, err := os.Stat(tgt.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused restore made %s", tgt.DataDir)
		}
	})
	t.Run("fail/exists", func(t *testing.T) {
		if _, err := Create(context.Background(), in.source(), good); err == nil {
			t.Fatal("Create over an existing backup succeeded")
		}
	})
}

// TestMigrate moves a population from SQLite to PostgreSQL and back: the
// census of every kind is equal at each step, the source is unchanged,
// and a target that is not empty is refused.
func TestMigrate(t *testing.T) {
	root := newRoot(t, 1)
	in := sqliteInstall(t, root)
	in.populate(t, 450)
	in.log.Close() // the server is stopped: its trail no longer moves the anchor
	ctx := context.Background()
	before, err := census(ctx, in.st)
	if err != nil {
		t.Fatal(err)
	}
	pg, _ := pgStore(t)
	defer pg.Close()
	m, err := Migrate(ctx, in.st, pg)
	if err != nil {
		t.Fatalf("Migrate to PostgreSQL: %v", err)
	}
	if m.Records != 450+1+1 || len(store.DiffSums(before, m.Kinds)) != 0 { // + canary + anchor
		t.Fatalf("migration = %+v", m)
	}
	if after, _ := census(ctx, in.st); len(store.DiffSums(before, after)) != 0 {
		t.Fatal("the source changed")
	}
	back, err := sqlite.Open(filepath.Join(t.TempDir(), "back.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if _, err := Migrate(ctx, pg, back); err != nil {
		t.Fatalf("Migrate back to SQLite: %v", err)
	}
	got, _ := census(ctx, back)
	if d := store.DiffSums(before, got); len(d) != 0 {
		t.Fatalf("after the round trip: %v", d)
	}
	if err := reseal.CheckCanary(ctx, back, root); err != nil {
		t.Fatalf("the canary after the round trip: %v", err)
	}
	if _, err := Migrate(ctx, in.st, back); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Migrate into a store that is not empty: %v", err)
	}
}
