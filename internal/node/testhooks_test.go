package node

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
)

// TestTestHooks: a build with the trenttest tag applies the test hooks (the
// scheduler interval, the domain clock offset from the clock file) and
// warns that they are active; the production build leaves the domain
// configuration as it is and says that it ignores them. `go test` checks
// the production build; `go test -tags trenttest` the other.
func TestTestHooks(t *testing.T) {
	clock := filepath.Join(t.TempDir(), "clock")
	if err := os.WriteFile(clock, []byte("240h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	// No hook set: nothing changes and nothing is logged, in either build.
	var kc0 kms.Config
	var jc0 job.Config
	applyTestHooks(&kc0, &jc0, config.TestHooks{}, log)
	if kc0.Now != nil || jc0.SchedulerInterval != 0 || logged.Len() != 0 {
		t.Errorf("no hook set: clock set %v, interval %v, logged %q", kc0.Now != nil, jc0.SchedulerInterval, logged.String())
	}

	var kc kms.Config
	var jc job.Config
	applyTestHooks(&kc, &jc, config.TestHooks{SchedulerInterval: "100ms", ClockFile: clock}, log)
	out := logged.String()
	if !testHooks {
		if kc.Now != nil || jc.SchedulerInterval != 0 {
			t.Fatalf("production build applied the test hooks: clock set %v, scheduler interval %v", kc.Now != nil, jc.SchedulerInterval)
		}
		if strings.Contains(out, "test hook active") || !strings.Contains(out, "test hooks ignored") {
			t.Fatalf("production build logged %q", out)
		}
		return
	}
	if jc.SchedulerInterval != 100*time.Millisecond {
		t.Errorf("scheduler interval %v, want 100ms", jc.SchedulerInterval)
	}
	if kc.Now == nil {
		t.Fatal("the clock file did not set the domain clock")
	}
	if ahead := time.Until(kc.Now()); ahead < 239*time.Hour || ahead > 241*time.Hour {
		t.Errorf("domain clock %v ahead, want 240h", ahead)
	}
	if strings.Count(out, "test hook active") != 2 {
		t.Errorf("trenttest build logged %q, want two active hooks", out)
	}
}
