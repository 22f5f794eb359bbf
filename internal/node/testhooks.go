package node

import (
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
)

// Test-only hooks, read from the environment so that black-box tests can
// drive child processes (test/cluster). Production never sets them; a node
// that sees one logs a warning at start-up.
//
//   - TRENT_TEST_SCHEDULER_INTERVAL (a Go duration): how often the node
//     looks for due jobs (default 1 s).
//   - TRENT_TEST_CLOCK_FILE (a path): the domain clock (key dates, due
//     jobs; not SigV4, not the audit trail) runs ahead of the wall clock
//     by the Go duration written in that file, re-read every 100 ms, so a
//     test can make a 7-day deletion window end on every node at once.
const (
	envTestSchedulerInterval = "TRENT_TEST_SCHEDULER_INTERVAL"
	envTestClockFile         = "TRENT_TEST_CLOCK_FILE"
)

// applyTestHooks adjusts the domain configuration from the test-only
// environment variables.
func applyTestHooks(c *kms.Config, jc *job.Config, log *slog.Logger) {
	if v := os.Getenv(envTestSchedulerInterval); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			jc.SchedulerInterval = d
			log.Warn("test hook active", "env", envTestSchedulerInterval, "value", d)
		}
	}
	if path := os.Getenv(envTestClockFile); path != "" {
		base := c.Now
		if base == nil {
			base = time.Now
		}
		var offset atomic.Int64
		read := func() {
			data, err := os.ReadFile(path)
			if err != nil {
				return
			}
			if d, err := time.ParseDuration(strings.TrimSpace(string(data))); err == nil {
				offset.Store(int64(d))
			}
		}
		read()
		go func() {
			for range time.Tick(100 * time.Millisecond) {
				read()
			}
		}()
		c.Now = func() time.Time { return base().Add(time.Duration(offset.Load())) }
		log.Warn("test hook active: domain clock offset from file", "env", envTestClockFile)
	}
}
