package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestProductionIgnoresTestHooks: the trent binary as built for production
// (without the trenttest tag) does not honour the test clock hooks that
// test/cluster and test/security set on their binaries: with both set, its
// domain clock stays the wall clock (a new key's creation date is now, not
// ten days ahead), and it logs that it ignores them, never "test hook
// active".
func TestProductionIgnoresTestHooks(t *testing.T) {
	clock := filepath.Join(t.TempDir(), "clock")
	if err := os.WriteFile(clock, []byte("240h"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not parallel: the child inherits this process's environment.
	t.Setenv("TRENT_TEST_CLOCK_FILE", clock)
	t.Setenv("TRENT_TEST_SCHEDULER_INTERVAL", "100ms")
	ch := startChild(t, t.TempDir())
	before := time.Now()
	m := createKey(t, newClient(ch.endpoint), &kms.CreateKeyInput{})
	if created := *m.CreationDate; created.After(before.Add(time.Hour)) {
		t.Errorf("key created at %v, %v after the wall clock: the clock file moved the domain clock", created, created.Sub(before))
	}
	ch.kill(t)
	stderr := ch.Output()
	if strings.Contains(stderr, "test hook active") {
		t.Errorf("the production binary applied a test hook:\n%s", stderr)
	}
	if !strings.Contains(stderr, "test hooks ignored") {
		t.Errorf("the production binary did not say that it ignores the test hooks:\n%s", stderr)
	}
}
