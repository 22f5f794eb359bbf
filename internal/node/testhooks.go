//go:build trenttest

package node

import (
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
)

// Test-only hooks, from the environment (config.TestHooks), so that
// black-box tests can drive child processes (test/cluster, test/security).
// This file is compiled only with the trenttest build tag (go build -tags
// trenttest ./cmd/trent); the production build has testhooks_off.go, which
// ignores them. A node that applies one logs a warning at start-up.
//
//   - TRENT_TEST_SCHEDULER_INTERVAL (a Go duration): how often the node
//     looks for due jobs (default 1 s).
//   - TRENT_TEST_CLOCK_FILE (a path): the domain clock (key dates, due
//     jobs; not SigV4, not the audit trail) runs ahead of the wall clock
//     by the Go duration written in that file, re-read every 100 ms, so a
//     test can make a 7-day deletion window end on every node at once.

// testHooks says whether this binary honours the test hooks.
const testHooks = true

// applyTestHooks adjusts the domain configuration from the test hooks.
func applyTestHooks(c *kms.Config, jc *job.Config, h config.TestHooks, log *slog.Logger) {
	if v := h.SchedulerInterval; v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			jc.SchedulerInterval = d
			log.Warn("test hook active", "env", config.EnvTestSchedulerInterval, "value", d)
		}
	}
	if path := h.ClockFile; path != "" {
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
		log.Warn("test hook active: domain clock offset from file", "env", config.EnvTestClockFile)
	}
}
