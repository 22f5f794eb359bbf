package recovery

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// TestMigrationDrill moves a SQLite installation to PostgreSQL, serves it
// from two nodes, backs it up from PostgreSQL while it serves, and moves
// it back to SQLite with the second node's audit trail; every step serves
// the whole population, the source is left as it was, and every trail
// verifies.
func TestMigrationDrill(t *testing.T) {
	pgURL := pgtest.FreshSchema(t, "")
	a := newInstall(t)
	os.MkdirAll(filepath.Dir(a.KeyFile), 0o700)
	s := serve(t, a)
	pop := populate(t, s)
	s.stop(t)

	out := mustTrent(t, a, "migrate", "--from", "sqlite:"+filepath.Join(a.DataDir, "trent.db"), "--to", pgURL)
	if !strings.Contains(out, "the copy verifies") {
		t.Fatalf("migrate: %s", out)
	}
	t.Logf("SQLite -> PostgreSQL:\n%s", out)
	if out, err := trent(t, a, "migrate", "--from", "sqlite:"+filepath.Join(a.DataDir, "trent.db"), "--to", pgURL); err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("a second migration into the same database: %v\n%s", err, out)
	}

	n1 := a
	n1.Store = pgURL
	n2 := newInstall(t)
	n2.KeyFile, n2.Store, n2.NodeID = a.KeyFile, pgURL, "node2"
	s1, s2 := serve(t, n1), serve(t, n2)
	pop.check(t, s1)
	pop.check(t, s2)
	// The nodes share the store: a key made through one is served by the
	// other.
	k := create(t, s1.kms(), &kms.CreateKeyInput{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s2.kms().DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: aws.String(k)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node2 does not see the key node1 made: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A PostgreSQL installation backs up while it serves, and the backup
	// restores (here into a new SQLite data directory).
	lg := startLoad(t, s1, pop.sealed[0].key)
	time.Sleep(200 * time.Millisecond)
	bdir := filepath.Join(t.TempDir(), "pg-backup")
	began := time.Now()
	out = mustTrent(t, n1, append([]string{"backup", "--out", bdir}, n1.dirArgs()...)...)
	lg.halt()
	cts, keys := lg.before(began)
	if !strings.Contains(out, "postgres (records") {
		t.Fatalf("backup of PostgreSQL: %s", out)
	}
	mustTrent(t, n1, "backup", "verify", bdir)
	c := newInstall(t)
	c.KeyFile = a.KeyFile
	mustTrent(t, c, "restore", "--from", bdir, "--data-dir", c.DataDir, "--root-key-file", c.KeyFile)
	sc := serve(t, c)
	pop.check(t, sc)
	checkAcked(t, sc, cts, keys)
	sc.stop(t)

	s1.stop(t)
	s2.stop(t)
	for _, n := range []install{n1, n2} {
		args := append([]string{"audit", "verify"}, n.dirArgs()...)
		if n.NodeID != "" {
			args = append(args, "--node", n.NodeID)
		}
		if out, err := trent(t, n, args...); err != nil {
			t.Fatalf("audit verify of %s on PostgreSQL: %v\n%s", n.NodeID, err, out)
		}
	}

	// Back to SQLite, as node1, with node2's trail.
	back := filepath.Join(t.TempDir(), "back.db")
	out = mustTrent(t, a, "migrate", "--from", pgURL, "--to", "sqlite:"+back,
		"--audit-dir", filepath.Join(a.DataDir, "audit"), "--trail-from", filepath.Join(n2.DataDir, "audit"))
	if !strings.Contains(out, "audit trail of node node2") {
		t.Fatalf("migrate back: %s", out)
	}
	t.Logf("PostgreSQL -> SQLite:\n%s", out)
	b := a
	b.Store = "sqlite:" + back
	sb := serve(t, b)
	pop.check(t, sb)
	if _, err := sb.kms().DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: aws.String(k)}); err != nil {
		t.Fatalf("the key made on PostgreSQL is not in the SQLite store: %v", err)
	}
	sb.stop(t)
	out, err := trent(t, b, append([]string{"audit", "verify"}, b.dirArgs()...)...)
	if err != nil || !strings.Contains(out, "node node2: OK") || !strings.Contains(out, "node node1: OK") {
		t.Fatalf("audit verify after the move back: %v\n%s", err, out)
	}

	// The source of the first migration was left as it was.
	s = serve(t, a)
	pop.check(t, s)
	if _, err := s.kms().DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: aws.String(k)}); err == nil {
		t.Fatal("the original SQLite store holds a key made after it was migrated")
	}
}
