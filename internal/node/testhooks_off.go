//go:build !trenttest

package node

import (
	"log/slog"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
)

// testHooks says whether this binary honours the test hooks: not the
// production build (see testhooks.go, built with the trenttest tag).
const testHooks = false

// applyTestHooks ignores the test hooks, saying so if any is set: a test
// that sets them on a binary built without the trenttest tag would
// otherwise wait for a clock that never moves.
func applyTestHooks(_ *kms.Config, _ *job.Config, h config.TestHooks, log *slog.Logger) {
	if h.Set() {
		log.Warn("test hooks ignored: this binary is built without the trenttest tag",
			"env", []string{config.EnvTestSchedulerInterval, config.EnvTestClockFile})
	}
}
