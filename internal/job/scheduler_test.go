package job_test

import (
	"context"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
)

// TestSchedulerLeaseRenewal: an idle node's ticks renew the scheduler lease
// in the store once per half term, not at every tick; a jump of the domain
// clock (a test's, or --dev's) and a refusal make the next tick ask again.
func TestSchedulerLeaseRenewal(t *testing.T) {
	t.Parallel()
	e := kmstest.NewEnv(t)
	f := &flakyStore{Store: e.Store}
	node := func(id string) *kmstest.Node {
		return kmstest.New(t, kmstest.Config{KMS: kms.Config{Store: f, Root: e.Root, Now: e.Clock.Now},
			Job: job.Config{NodeID: id, SchedulerInterval: time.Second}}) // lease term 8 s
	}
	clock := e.Clock
	a, b := node("a"), node("b")
	ctx := context.Background()
	tick := func(n *kmstest.Node) {
		t.Helper()
		if _, err := n.Jobs.RunDueJobs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		tick(a)
	}
	if n := f.leases.Load(); n != 1 {
		t.Fatalf("10 ticks within the lease's first half wrote it %d times; want 1", n)
	}
	// b is refused while a holds the lease, and asks at every tick.
	tick(b)
	tick(b)
	if n := f.leases.Load(); n != 3 {
		t.Fatalf("b's two refused ticks asked the store %d times; want 2", n-1)
	}
	// Half the term on the domain clock: a renews.
	clock.Add(4 * time.Second)
	tick(a)
	tick(a)
	if n := f.leases.Load(); n != 4 {
		t.Fatalf("after half the term, a's ticks asked the store %d times; want 1", n-3)
	}
	// A clock that steps back is not trusted either.
	clock.Add(-time.Minute)
	tick(a)
	if n := f.leases.Load(); n != 5 {
		t.Fatalf("after the clock stepped back, a's tick asked the store %d times; want 1", n-4)
	}
	// An outage: the tick fails, and the next one asks again.
	f.down.Store(true)
	clock.Add(time.Minute + 5*time.Second)
	if _, err := a.Jobs.RunDueJobs(ctx); err == nil {
		t.Fatal("a tick during an outage succeeded")
	}
	f.down.Store(false)
	tick(a)
	tick(a)
	if n := f.leases.Load(); n != 7 {
		t.Fatalf("around an outage a asked the store %d times; want 2 (the failed tick, then the next)", n-5)
	}
}
