package node

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/audit"
)

// A verification that takes longer than verifyMaxAge (a trail of billions
// of records) is not restarted by every caller a minute later: callers
// calling GetTrailVerification once a minute keep the verifier busy at
// most 1/verifyDuty of the time.
func TestTrailVerifierPacing(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	runs := 0
	done := make(chan struct{}, 1)
	v := &trailVerifier{node: "n1", log: slog.New(slog.DiscardHandler), now: now,
		verify: func() (*audit.Report, error) {
			runs++
			advance(5 * time.Minute) // the run reads a large trail
			done <- struct{}{}
			return &audit.Report{}, nil
		}}
	wait := func() {
		<-done
		for {
			st, _ := v.State(context.Background())
			v.mu.Lock()
			running := v.running
			v.mu.Unlock()
			if !running && st.Status != "Checking" {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	v.State(context.Background())
	wait()
	// A caller every minute for the next 45 minutes starts no run: the
	// last took 5 minutes, so the next waits until 50 minutes after it
	// started.
	for range 44 {
		advance(time.Minute)
		if st, _ := v.State(context.Background()); st.Running {
			t.Fatalf("a new verification started %v after a 5-minute run started (runs %d)", clock.Sub(time.Unix(1_700_000_000, 0)), runs)
		}
	}
	advance(time.Minute)
	if st, _ := v.State(context.Background()); !st.Running {
		t.Fatal("no verification 50 minutes after the last started")
	}
	wait()
	if runs != 2 {
		t.Errorf("%d runs", runs)
	}
}
