package postgres

import (
	"context"
	"strings"
	"testing"
)

// TestIdleTransactionsEnd: every session of a node carries
// idle_in_transaction_session_timeout (10 s), so that a node stopped
// inside a transaction (SIGSTOP, a paused VM) cannot hold the change
// feed's lock, and with it every node's writes, for ever; a database URL
// that sets its own value keeps it. (test/security
// TestRedCStoppedNodeDoesNotStallCluster performs the attack.)
func TestIdleTransactionsEnd(t *testing.T) {
	baseURL(t)
	ctx := context.Background()
	u := freshSchema(t)
	for _, c := range []struct{ url, want string }{
		{u, "10s"},
		{u + sep(u) + "idle_in_transaction_session_timeout=30000", "30s"},
	} {
		s, err := Open(ctx, c.url)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		err = s.pool.QueryRow(ctx, `SHOW idle_in_transaction_session_timeout`).Scan(&got)
		s.Close()
		if err != nil || got != c.want {
			t.Errorf("idle_in_transaction_session_timeout %q, %v; want %s", got, err, c.want)
		}
	}
}

// sep is what joins one more query parameter to url.
func sep(url string) string {
	if strings.Contains(url, "?") {
		return "&"
	}
	return "?"
}
