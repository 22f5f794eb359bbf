package job

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// # Cache coherence across nodes
//
// Every node serves keys and aliases from memory. The change feed keeps
// those caches coherent: followChanges reads it after every store
// notification and at least every PollInterval, and hands what changed to
// the core (kms.Service.Invalidate). A read of the feed that succeeds
// confirms every cached entry as of the moment the read began.
//
// When the feed cannot be read (the database is down, or this node is cut
// off from it), a key disabled through another node would stay usable here
// for as long as the cache kept it. watchFeed bounds that: once the last
// successful read is older than staleAfter (2*PollInterval + CacheGrace),
// it purges every cache (kms.Service.PurgeCaches), and keeps purging every
// PollInterval until a read succeeds again. A purged entry is reloaded from
// the store (which then fails with DependencyTimeoutException), so an
// unconfirmed entry is never served for more than staleAfter +
// PollInterval after its last confirmation; an entry reloaded between two
// purges was fresh when it was loaded. The watchdog runs on its own
// goroutine so that a feed read stuck on a dead connection cannot delay it.

// feed is the change-feed follower's state.
type feed struct {
	mu  sync.Mutex // one reader at a time
	seq int64      // position: the last change applied

	staleAfter time.Duration
	lastSync   atomic.Int64 // Service.Now() in Unix nanoseconds when the last successful read began
	// progress is when a read of a full batch last succeeded during a long
	// catch-up: the store is reachable and the node is working through a
	// burst of changes, so the caches are not purged meanwhile.
	progress atomic.Int64
	stale    atomic.Bool
}

// followChanges keeps the caches coherent with writes made by other nodes.
func (r *Runner) followChanges() {
	defer r.wg.Done()
	var notify <-chan struct{}
	if n, ok := r.store.(store.Notifier); ok {
		notify = n.Notify()
	}
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		case <-notify:
		}
		r.SyncChanges(context.Background())
	}
}

// SyncChanges reads the change feed and invalidates cached entries that
// changed. It is called periodically; tests call it to avoid waiting.
func (r *Runner) SyncChanges(ctx context.Context) {
	r.feed.mu.Lock()
	defer r.feed.mu.Unlock()
	for {
		start := r.svc.Now()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		changes, err := r.store.Changes(ctx, r.feed.seq, 1000)
		cancel()
		if errors.Is(err, store.ErrFeedTruncated) {
			// Position first, then purge: a change committed in between
			// is read again next time, never lost.
			seq, err := r.store.LastSeq(context.Background())
			if err == nil {
				r.feed.seq = seq
			}
			r.svc.PurgeCaches()
			if err == nil {
				r.feedConfirmed(start)
			}
			return
		}
		if err != nil {
			return
		}
		for _, c := range changes {
			r.svc.Invalidate(c.Kind, c.ID)
			r.feed.seq = c.Seq
		}
		if len(changes) < 1000 {
			r.feedConfirmed(start)
			return
		}
		r.feed.progress.Store(r.svc.Now().UnixNano())
	}
}

// FeedStatus reports when the change feed was last read successfully
// (by this node's clock) and whether the caches are currently unconfirmed,
// that is, being purged because the feed could not be read for longer than
// the grace period.
func (r *Runner) FeedStatus() (lastSync time.Time, stale bool) {
	return time.Unix(0, r.feed.lastSync.Load()), r.feed.stale.Load()
}

// feedConfirmed records a successful feed read that began at start.
func (r *Runner) feedConfirmed(start time.Time) {
	if n := start.UnixNano(); n > r.feed.lastSync.Load() {
		r.feed.lastSync.Store(n)
	}
	if r.feed.stale.CompareAndSwap(true, false) {
		r.log.Info("change feed readable again; caching resumes")
	}
}

// watchFeed purges the caches while the change feed is unconfirmed.
func (r *Runner) watchFeed() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.checkFeed()
	}
}

// checkFeed purges the caches if the last successful feed read is older
// than staleAfter. It reports whether it purged.
func (r *Runner) checkFeed() bool {
	now := r.svc.Now()
	age := now.Sub(time.Unix(0, r.feed.lastSync.Load()))
	if age <= r.feed.staleAfter {
		return false
	}
	if now.Sub(time.Unix(0, r.feed.progress.Load())) <= r.feed.staleAfter {
		return false // reachable, catching up on a burst of changes
	}
	if !r.feed.stale.Swap(true) {
		r.log.Warn("change feed unreadable; serving keys from the store only", "since", age.Round(time.Millisecond))
	}
	r.svc.PurgeCaches()
	return true
}
