package security

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// Two findings of red team C in a cluster, closed: a node without --dev
// stops when another node advances the store's development clock
// (node.refuseAdvancedClock), and a node stopped inside a transaction
// no longer stalls every node's writes (PostgreSQL ends its transaction:
// idle_in_transaction_session_timeout, internal/store/postgres).

// TestRedCProductionNodeStopsOnAdvancedStore: "a store whose clock
// was advanced is refused by trent serve without --dev" holds only at
// start. A node without --dev that already serves a PostgreSQL store keeps
// serving it with the wall clock after a --dev node of the same store
// advances the store's clock (nothing on it follows the clock's record):
// the cluster then runs on two clocks. Dates written by one node lie a
// month apart from the other's; whichever node holds the scheduler's lease
// decides when deletions, rotations and expiries fall due (the dev node's
// advance may delete the production node's keys, or do nothing at all); a
// role session issued by the dev node after the advance carries an expiry
// in the dev clock, which the production node compares with the wall clock
// as it is (no offset), so a 15-minute session is valid there for the
// whole offset (up to 100 years). The safe outcome asserted: once the
// store's clock is advanced, the production node stops serving it (it
// exits), as it would refuse to start on it.
func TestRedCProductionNodeStopsOnAdvancedStore(t *testing.T) {
	url := pgtest.FreshSchema(t, "")
	root := randHex(32)
	prod := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "prod", "--metrics-listen", "off"}})
	dev := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "dev", "--dev", "--metrics-listen", "off"}})
	ctx := context.Background()
	pc := prod.KMS(Admin)
	if _, err := pc.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	if r := devAdvance(t, dev, Admin, 31*86400); r.Status != http.StatusOK {
		t.Fatalf("AdvanceClock on the dev node: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	WaitFor(t, 10*time.Second, func() error {
		if !prod.Alive() {
			return nil
		}
		if _, err := pc.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			return nil
		}
		return errors.New("the node without --dev still serves the store whose clock another node advanced by 31 days, with the wall clock")
	})
}

// TestRedCStoppedNodeDoesNotStallCluster (found while attacking the
// development clock in a cluster; the store's matter, not issue 18's): a
// node that stops (SIGSTOP, a paused VM, a frozen host; its TCP connections
// stay open) inside the change feed's horizon transaction keeps the feed's
// advisory lock, taken exclusively (internal/store/postgres horizon), and
// PostgreSQL keeps it for as long as the connection lives: "idle in
// transaction", forever for a stopped process. Every writer of every node
// takes that lock shared, so no node can write any more (CreateKey,
// ScheduleKeyDeletion, AssumeRole... answer 503 DependencyTimeoutException
// after their deadline), and the nodes' own horizons queue behind it too.
// A node stopped inside any Apply (holding the lock shared) stalls the
// horizons, and the writers queued behind them, likewise. The safe outcome
// asserted: a write on node a succeeds while node b stays stopped holding
// the lock: the nodes' sessions set idle_in_transaction_session_timeout
// (10 s), so PostgreSQL ends a stopped node's transaction and frees its
// locks.
func TestRedCStoppedNodeDoesNotStallCluster(t *testing.T) {
	url := pgtest.FreshSchema(t, "")
	root := randHex(32)
	a := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "a", "--metrics-listen", "off"}})
	b := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "b", "--metrics-listen", "off"}})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	defer syscall.Kill(b.PID(), syscall.SIGCONT)
	// Stop node b until it is caught holding the feed's lock exclusively
	// in an idle transaction (node a, running, holds it only for a
	// moment).
	caught := false
	for range 300 {
		if err := syscall.Kill(b.PID(), syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
		// The holder, if any, still in the same transaction 300 ms later:
		// node b's (node a's last a moment).
		const holder = `SELECT s.pid, s.xact_start FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' AND s.state = 'idle in transaction'`
		var pid, pid2 int
		var start, start2 time.Time
		n := 0
		if conn.QueryRow(ctx, holder).Scan(&pid, &start) == nil {
			time.Sleep(300 * time.Millisecond)
			if conn.QueryRow(ctx, holder).Scan(&pid2, &start2) == nil && pid2 == pid && start2.Equal(start) {
				n = 1
			}
		}
		if caught = n > 0; caught {
			break
		}
		syscall.Kill(b.PID(), syscall.SIGCONT)
		time.Sleep(time.Duration(10+mrand.IntN(40)) * time.Millisecond)
	}
	if !caught {
		t.Skip("node b was never stopped inside a transaction holding the feed lock")
	}
	if r := a.Call(t, Admin, "CreateKey", "{}"); r.Status != http.StatusOK {
		t.Errorf("CreateKey on node a while node b is stopped holding the change feed's lock: %d %s %s, want 200", r.Status, r.ErrorType, r.Message)
	}
}
