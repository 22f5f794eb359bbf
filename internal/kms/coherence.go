package kms

import (
	"sync"
	"sync/atomic"
	"time"
)

// # Cache coherence across nodes
//
// Every node serves keys and aliases from memory. The change feed keeps
// those caches coherent: followChanges reads it after every store
// notification and at least every PollInterval, and invalidates what
// changed. A read of the feed that succeeds confirms every cached entry as
// of the moment the read began.
//
// When the feed cannot be read (the database is down, or this node is cut
// off from it), a key disabled through another node would stay usable here
// for as long as the cache kept it. watchFeed bounds that: once the last
// successful read is older than staleAfter (2*PollInterval + CacheGrace),
// it purges every cache, and keeps purging every PollInterval until a read
// succeeds again. A purged entry is reloaded from the store (which then
// fails with DependencyTimeoutException), so an unconfirmed entry is never
// served for more than staleAfter + PollInterval after its last
// confirmation; an entry reloaded between two purges was fresh when it was
// loaded. The watchdog runs on its own goroutine so that a feed read stuck
// on a dead connection cannot delay it.

// feedHealth tracks the change feed's last successful read.
type feedHealth struct {
	staleAfter time.Duration
	lastSync   atomic.Int64 // Service.now() in Unix nanoseconds when the last successful read began
	// progress is when a read of a full batch last succeeded during a long
	// catch-up: the store is reachable and the node is working through a
	// burst of changes, so the caches are not purged meanwhile.
	progress atomic.Int64
	stale    atomic.Bool

	mu      sync.Mutex
	purgers []func()
}

// OnPurge registers fn to be called whenever the caches must be dropped as
// a whole: when the change feed was truncated past this node's position,
// and while the feed cannot be read for longer than the configured grace.
// Components that cache store records outside the Service (the access-key
// directory) register here as well as with OnChange.
func (s *Service) OnPurge(fn func()) {
	s.feed.mu.Lock()
	s.feed.purgers = append(s.feed.purgers, fn)
	s.feed.mu.Unlock()
}

// FeedStatus reports when the change feed was last read successfully
// (by this node's clock) and whether the caches are currently unconfirmed,
// that is, being purged because the feed could not be read for longer than
// the grace period.
func (s *Service) FeedStatus() (lastSync time.Time, stale bool) {
	return time.Unix(0, s.feed.lastSync.Load()), s.feed.stale.Load()
}

// feedConfirmed records a successful feed read that began at start.
func (s *Service) feedConfirmed(start time.Time) {
	if n := start.UnixNano(); n > s.feed.lastSync.Load() {
		s.feed.lastSync.Store(n)
	}
	if s.feed.stale.CompareAndSwap(true, false) {
		s.log.Info("change feed readable again; caching resumes")
	}
}

// purgeCaches drops every cached key, alias and registered cache.
func (s *Service) purgeCaches() {
	s.keys.Purge()
	s.aliases.Purge()
	s.keyAliases.Purge()
	s.feed.mu.Lock()
	fns := append([]func(){}, s.feed.purgers...)
	s.feed.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// watchFeed purges the caches while the change feed is unconfirmed.
func (s *Service) watchFeed() {
	defer s.wg.Done()
	t := time.NewTicker(s.pollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.checkFeed()
	}
}

// checkFeed purges the caches if the last successful feed read is older
// than staleAfter. It reports whether it purged.
func (s *Service) checkFeed() bool {
	now := s.now()
	age := now.Sub(time.Unix(0, s.feed.lastSync.Load()))
	if age <= s.feed.staleAfter {
		return false
	}
	if now.Sub(time.Unix(0, s.feed.progress.Load())) <= s.feed.staleAfter {
		return false // reachable, catching up on a burst of changes
	}
	if !s.feed.stale.Swap(true) {
		s.log.Warn("change feed unreadable; serving keys from the store only", "since", age.Round(time.Millisecond))
	}
	s.purgeCaches()
	return true
}
