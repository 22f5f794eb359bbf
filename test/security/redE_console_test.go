package security

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// redEConsole returns a copy of s whose Endpoint is the console's own
// listener (--console-listen), from the banner's "console:" line.
func redEConsole(t *testing.T, s *Server) *Server {
	t.Helper()
	var c *Server
	// The banner's console line follows its endpoint line, which Start
	// waits for.
	WaitFor(t, 10*time.Second, func() error {
		for _, line := range strings.Split(s.Output(), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "console:" {
				cs := *s
				cs.Endpoint = strings.TrimSuffix(f[1], "/console/")
				c = &cs
				return nil
			}
		}
		return fmt.Errorf("no console line in the banner:\n%s", s.Output())
	})
	return c
}

// redEOpen counts the connections among conns the server still holds
// open after d (those it refused or evicted are closed by then).
func redEOpen(conns []net.Conn, d time.Duration) int {
	var open int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !connClosedWithin(c, d) {
				mu.Lock()
				open++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return open
}

// TestRedEConsoleListenerConnectionLimit: with --console-listen the
// console's listener serves the APIs too; the connection limit
// (max_connections, by default derived from RLIMIT_NOFILE so that the
// process keeps descriptors for its store and trail) must bound the
// process's connections, not each listener's: otherwise an
// unauthenticated client holds twice the limit by flooding both.
func TestRedEConsoleListenerConnectionLimit(t *testing.T) {
	cfg := connWriteConfig(t, "limits:\n  max_connections: 20\n  max_connections_per_client: 20\n")
	s := Start(t, Opts{Args: []string{"--config", cfg, "--console-listen", "127.0.0.1:0", "--metrics-listen", "off"}})
	c := redEConsole(t, s)
	ips := []string{"127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"}
	api, _ := connFlood(t, s, 20, ips)
	con, _ := connFlood(t, c, 20, ips)
	open := redEOpen(append(api, con...), 2*time.Second)
	t.Logf("%d of %d idle connections (20 to each listener) still open", open, len(api)+len(con))
	if open > 20 {
		t.Errorf("the server holds %d connections with max_connections 20: each listener has a limit of its own", open)
	}
	for _, srv := range []*Server{s, c} {
		if err := srv.connListKeys("127.0.0.2"); err != nil {
			t.Errorf("signed call on %s: %v", srv.Endpoint, err)
		}
	}
	// The listeners share one tracker: the console's, closed first at
	// shutdown, does not close it under the API's.
	s.Stop(t)
}
