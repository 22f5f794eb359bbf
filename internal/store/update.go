package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// # Serializing writers of one record
//
// Optimistic concurrency alone makes writers of one record fail each
// other: of 100 concurrent read-modify-Apply loops on one record, each
// round has one winner, and a loop that gives up after a fixed number of
// attempts fails its caller. Update removes both problems. Inside one
// process, writers of the same record queue on a lock (Locks), so they
// commit one after the other without conflicting at all. Across processes
// (several nodes on one PostgreSQL database), IfVersion still decides, and
// the loser retries after a randomized, growing pause, for as long as the
// time budget allows. Every writer therefore succeeds, in some order,
// unless the record is so contended that the budget runs out; then Update
// returns ErrContended, which the domain reports as a retryable error.

// ErrContended means Update ran out of time while other writers kept
// changing the records it was updating (or held their locks). Nothing of
// the failed attempt was written; the caller may retry later.
var ErrContended = errors.New("store: record contended; retry budget exhausted")

// RetryBudget is how long Update keeps trying, from its start, when the
// caller's context has no earlier deadline.
const RetryBudget = 10 * time.Second

// Backoff bounds between attempts after a conflict: the pause starts near
// minBackoff and doubles up to maxBackoff, each pause drawn at random from
// its upper half so that racing nodes fall out of step.
const (
	minBackoff = 2 * time.Millisecond
	maxBackoff = 250 * time.Millisecond
)

// Locks are named in-process locks that queue the writers of one record.
// The zero value is ready to use. Names are the caller's choice (a record
// kind and ID, typically); an unused name costs nothing.
type Locks struct {
	mu sync.Mutex
	m  map[string]*lockEntry
}

// lockEntry is one named lock: a channel holding a token while it is held
// (a channel, not a mutex, so that waiting honours contexts and deadlines;
// blocked senders are served in arrival order).
type lockEntry struct {
	ch   chan struct{}
	refs int // holders and waiters; the entry goes when it drops to 0
}

func (l *Locks) ref(name string) *lockEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]*lockEntry)
	}
	e := l.m[name]
	if e == nil {
		e = &lockEntry{ch: make(chan struct{}, 1)}
		l.m[name] = e
	}
	e.refs++
	return e
}

func (l *Locks) unref(name string, e *lockEntry) {
	l.mu.Lock()
	if e.refs--; e.refs == 0 {
		delete(l.m, name)
	}
	l.mu.Unlock()
}

// lock acquires the lock of name, waiting until ctx ends or deadline.
func (l *Locks) lock(ctx context.Context, name string, deadline time.Time) error {
	e := l.ref(name)
	select {
	case e.ch <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case e.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		l.unref(name, e)
		return ctx.Err()
	case <-t.C:
		l.unref(name, e)
		return fmt.Errorf("waiting for %s: %w", name, ErrContended)
	}
}

func (l *Locks) unlock(name string) {
	l.mu.Lock()
	e := l.m[name]
	l.mu.Unlock()
	<-e.ch
	l.unref(name, e)
}

// Update runs fn while holding the locks of names in l, and runs it again
// each time it fails with an error wrapping ErrConflict, after a pause,
// until it succeeds, fails otherwise, or the budget (RetryBudget, or ctx's
// deadline if that is earlier) runs out, when it returns an error wrapping
// ErrContended. fn must read what it modifies afresh on every call and
// write with IfVersion or Create, so that a concurrent writer in another
// process makes it fail with ErrConflict (an fn that meets ErrExists from
// such a race should return it wrapped in ErrConflict to be retried).
//
// The locks are taken in sorted order, all at once, before fn first runs,
// and held until Update returns; a caller must not hold other locks of l
// while it calls Update, so that no two Updates wait for each other. A nil
// l takes no locks (writers then meet only through IfVersion). fn's other
// errors, and ctx's error if ctx ends, are returned unchanged.
func Update(ctx context.Context, l *Locks, names []string, fn func() error) error {
	deadline := time.Now().Add(RetryBudget)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if l != nil && len(names) > 0 {
		names = slices.Clone(names)
		slices.Sort(names)
		names = slices.Compact(names)
		for i, n := range names {
			if err := l.lock(ctx, n, deadline); err != nil {
				for _, m := range names[:i] {
					l.unlock(m)
				}
				return err
			}
		}
		defer func() {
			for _, n := range names {
				l.unlock(n)
			}
		}()
	}
	pause := minBackoff
	for {
		err := fn()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		// Full jitter on the upper half: [pause/2, pause).
		d := pause/2 + rand.N(pause/2)
		if time.Now().Add(d).After(deadline) {
			return fmt.Errorf("%w (last attempt: %v)", ErrContended, err)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		pause = min(2*pause, maxBackoff)
	}
}
