package backup

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/postgres"
	"github.com/trentkms/trent/internal/store/postgres/pgtest"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// install is a running installation without a server: a store with a
// canary, a sealed audit signing key, and a trail that records the writes
// of a load generator.
type install struct {
	dir, trail, keyFile string
	st                  store.Store
	root                rootkey.Provider
	log                 *audit.Log
	backend             string
}

func newRoot(t *testing.T, b byte) rootkey.Provider {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = b
	}
	p, err := rootkey.NewStatic(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newInstall(t *testing.T, st store.Store, backend string, root rootkey.Provider) *install {
	t.Helper()
	ctx := context.Background()
	in := &install{dir: t.TempDir(), st: st, root: root, backend: backend}
	in.trail, in.keyFile = filepath.Join(in.dir, "audit"), filepath.Join(in.dir, "audit-signing.key")
	if err := reseal.WriteCanary(ctx, st, root); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	sealed, err := root.Seal(priv.Seed(), audit.SigningKeyAAD)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.keyFile, sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	in.log, err = audit.Open(audit.Options{Dir: in.trail, Node: "node1", Signer: priv, Anchor: audit.StoreAnchor{Store: st},
		DigestInterval: 20 * time.Millisecond, ReserveBytes: -1, MinFreeBytes: -1, MinFreePercent: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.log.Close(); st.Close() })
	return in
}

// write records one write and applies it, as a server does.
func (in *install) write(ctx context.Context, kind, id, data string) error {
	ev := &audit.Event{EventName: "CreateKey", EventTime: time.Now().UTC().Format(time.RFC3339), RequestParameters: map[string]any{"id": id}}
	if err := in.log.Append(ctx, ev); err != nil {
		return err
	}
	return in.st.Apply(ctx, store.Op{Kind: kind, ID: id, Data: []byte(data)})
}

func (in *install) source() Source {
	return Source{Store: in.st, Backend: in.backend, TrailDir: in.trail, SigningKeyFile: in.keyFile}
}

// populate writes n records of three kinds, one of them binary.
func (in *install) populate(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if err := in.write(context.Background(), []string{"key", "alias", "grant"}[i%3], fmt.Sprintf("id-%04d", i), fmt.Sprintf("data \x00\xff %d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// load runs writers against in until stop is called; acked returns the
// IDs whose writes have returned so far.
func (in *install) load(t *testing.T) (acked func() map[string]bool, stop func()) {
	var mu sync.Mutex
	done := map[string]bool{}
	var halt atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !halt.Load(); i++ {
				id := fmt.Sprintf("load-%d-%05d", w, i)
				if err := in.write(context.Background(), "load", id, "x"); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				done[id] = true
				mu.Unlock()
			}
		}()
	}
	acked = func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]bool, len(done))
		for k := range done {
			out[k] = true
		}
		return out
	}
	return acked, func() { halt.Store(true); wg.Wait() }
}

func sqliteInstall(t *testing.T, root rootkey.Provider) *install {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	return newInstall(t, st, "sqlite", root)
}

func pgStore(t *testing.T) (store.Store, string) {
	t.Helper()
	url := pgtest.FreshSchema(t, "")
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return st, url
}

// sqliteTarget is a fresh data directory with a SQLite store.
func sqliteTarget(t *testing.T, root rootkey.Provider) (Target, *store.Store) {
	dir := filepath.Join(t.TempDir(), "restored")
	var opened store.Store
	db := filepath.Join(dir, "trent.db")
	t.Cleanup(func() {
		if opened != nil {
			opened.Close()
		}
	})
	return Target{DataDir: dir, TrailDir: filepath.Join(dir, "audit"), SigningKeyFile: filepath.Join(dir, "audit-signing.key"),
		SQLitePath: db, Root: root, Node: "node1", Region: "us-east-1",
		OpenStore: func() (store.Store, error) { s, err := sqlite.Open(db); opened = s; return s, err }}, &opened
}

// TestBackupWhileServingAndRestore is the recovery drill in one process:
// a backup taken while writers run holds every write acknowledged before
// it began; it verifies; restored into an empty data directory it holds
// the same records, and the trail verifies across the restore, which is
// its first record after the backup's.
func TestBackupWhileServingAndRestore(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run("ok/"+backend, func(t *testing.T) {
			root := newRoot(t, 1)
			var in *install
			if backend == "sqlite" {
				in = sqliteInstall(t, root)
			} else {
				st, _ := pgStore(t)
				in = newInstall(t, st, "postgres", root)
			}
			in.populate(t, 30)
			acked, stop := in.load(t)
			time.Sleep(30 * time.Millisecond)
			dir := filepath.Join(t.TempDir(), "b1")
			before := acked()
			m, err := Create(context.Background(), in.source(), dir)
			after := len(acked()) - len(before)
			stop()
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if after == 0 {
				t.Fatalf("no write was acknowledged while the backup ran: the load did not run beside it")
			}
			wantFormat := map[string]string{"sqlite": FormatSQLite, "postgres": FormatRecords}[backend]
			if m.Store.Format != wantFormat || len(m.RootKeyIDs) != 1 || m.RootKeyIDs[0] != root.CurrentID() || len(m.Audit) != 1 || m.Audit[0].LastSeq < 30 {
				t.Fatalf("manifest = %+v", m)
			}
			if _, err := Verify(context.Background(), dir, VerifyOptions{}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			tgt, opened := sqliteTarget(t, root)
			if backend == "postgres" {
				url := pgtest.FreshSchema(t, "")
				tgt.SQLitePath = ""
				tgt.OpenStore = func() (store.Store, error) {
					s, err := postgres.Open(context.Background(), url)
					*opened = s
					return s, err
				}
			}
			res, err := Restore(context.Background(), dir, tgt)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if res.AuditSeq != m.Audit[0].LastSeq+1 {
				t.Fatalf("the restore is record %d, want %d (the first after the backup's)", res.AuditSeq, m.Audit[0].LastSeq+1)
			}
			// Every write acknowledged before the backup began is there.
			st, err := tgt.OpenStore()
			if err != nil {
				t.Fatal(err)
			}
			_ = opened
			for id := range before {
				if _, err := st.Get(context.Background(), "load", id); err != nil {
					t.Fatalf("write %s, acknowledged before the backup, is missing after the restore: %v", id, err)
				}
			}
			rep, err := audit.Verify(tgt.TrailDir, audit.VerifyOptions{Anchor: audit.StoreAnchor{Store: st}, RequireDigests: true})
			if err != nil || !rep.OK() {
				t.Fatalf("trail after restore: %+v, %v", rep, err)
			}
			if w := strings.Join(rep.Nodes[0].Warnings, "\n"); !strings.Contains(w, "restored from a backup") {
				t.Fatalf("verify does not name the restore: %q", w)
			}
			t.Logf("backup %s: %d load writes acknowledged before it, %d during it, audit records %d..%d, restore at record %d",
				m.ID, len(before), after, m.Audit[0].FirstSeq, m.Audit[0].LastSeq, res.AuditSeq)
		})
	}
}
