package security

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store/postgres"
	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// TestRedCDevClockAfterFeedTruncation: a node follows another node's
// advance of the development clock through the change feed. A node that
// fell behind the feed (stopped, or cut off from PostgreSQL, while the feed
// was pruned past its position) purges its caches and goes on; it never
// read the clock's record again, and ran on the old clock until restarted:
// its key dates, due work and session expiry a day (or a century) apart
// from the other nodes', and a role session issued by the node ahead valid
// on it for the whole difference. Now a purge reads the clock again.
func TestRedCDevClockAfterFeedTruncation(t *testing.T) {
	url := pgtest.FreshSchema(t, "")
	root := randHex(32)
	a := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "a", "--dev", "--metrics-listen", "off"}})
	b := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "b", "--dev", "--metrics-listen", "off"}})
	defer syscall.Kill(b.PID(), syscall.SIGCONT)
	// Node b stopped inside a store transaction that holds the change
	// feed's lock stalls every node's writes (a store matter, not this
	// test's): then let it go on and stop it again.
	for attempt := 1; ; attempt++ {
		if err := syscall.Kill(b.PID(), syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		r := devAdvance(t, a, Admin, 86400)
		if r.Status == http.StatusOK {
			break
		}
		if r.Status != http.StatusServiceUnavailable || attempt == 4 {
			t.Fatalf("AdvanceClock on node a: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
		syscall.Kill(b.PID(), syscall.SIGCONT)
		time.Sleep(time.Second)
	}
	for range 3 {
		a.CreateKey(t, Admin, nil)
	}
	// The feed is pruned past node b's position (as a node's periodic
	// prune does once the feed holds more than FeedKeep changes).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := postgres.OpenOptions(ctx, url, postgres.Options{FeedKeep: 1, PruneEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Prune(ctx)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(b.PID(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	want := devOffset(t, a) // 86400, or more if a timed-out step committed after all
	if want < 86400 {
		t.Fatalf("node a's clock is %d s ahead after a step of 86400 s", want)
	}
	WaitFor(t, 10*time.Second, func() error {
		if off := devOffset(t, b); off != want {
			return fmt.Errorf("node b's development clock is %d s ahead after the feed was truncated, node a's %d s", off, want)
		}
		return nil
	})
}
