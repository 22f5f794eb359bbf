package kmstest

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// NewBenchNode returns a node over a fresh SQLite store with the default
// authorizer (a principal may act on its own account's keys), and a
// context calling it as the account's root.
func NewBenchNode(tb testing.TB) (*Node, context.Context) {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "trent.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	root, _ := rootkey.NewStatic(bytes.Repeat([]byte{0x42}, 32))
	n := New(tb, Config{KMS: kms.Config{Store: st, Root: root}})
	return n, kms.WithCaller(context.Background(), &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", Type: "Root"})
}

// ServerGC collects the setup's garbage, so that a benchmark loop is not
// charged for it, and runs the loop with the collector set as trent serve
// sets it (GOGC=400, cmd/trent/serve.go). A node holding a large key, alias
// or grant set in its caches pays for marking it, the one cost that grows
// with its size; at the default GOGC=100 that is charged four times as
// often as in the server.
func ServerGC(b *testing.B) {
	runtime.GC()
	old := debug.SetGCPercent(400)
	b.Cleanup(func() { debug.SetGCPercent(old) })
}

// Race runs f(0..n-1) at once, half of them on each node, and returns the
// error codes by count ("" for success).
func Race(t *testing.T, nodes [2]*Node, n int, f func(n *Node, i int) error) map[string]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := f(nodes[i%2], i)
			code := awserr.CodeOf(err)
			if err != nil && code == "" {
				code = "untyped: " + err.Error()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}
