package job

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/store"
)

// Config configures a Runner.
type Config struct {
	// NodeID names this node for the scheduler's lease. Default: a random
	// ID.
	NodeID string
	// PollInterval is how often the change feed is read when the store
	// cannot push notifications (default 250ms).
	PollInterval time.Duration
	// SchedulerInterval is how often due jobs are looked for (default 1s).
	SchedulerInterval time.Duration
	// Events receives service events (scheduled rotation, deletion, expiry)
	// for the audit trail. May be nil.
	Events func(ctx context.Context, ev Event) error
	// EventsReady, if set, reports whether Events can record an event now
	// (nil) or not (the audit trail's volume is full, or the trail
	// failed). While it cannot, the scheduler runs no job: due jobs wait
	// and run once their events can be recorded, so that no scheduled
	// deletion, rotation or expiry happens unrecorded.
	EventsReady func() error
}

// Event is an action Trent took on its own, for the audit trail.
type Event struct {
	Name    string // kms.EventRotateKey, kms.EventDeleteKey, kms.EventDeleteExpiredKeyMaterial
	Account string
	KeyARN  string
	KeyID   string
	Time    time.Time
}

// Runner runs a node's background work over its domain service: the
// change-feed follower and its watchdog, the job scheduler and the
// key-usage flusher. It serves GetKeyLastUsage.
type Runner struct {
	svc   *kms.Service
	store store.Store
	log   *slog.Logger
	cfg   Config

	feed  feed
	usage usageTracker

	stop     chan struct{}
	wg       sync.WaitGroup
	closeOne sync.Once

	lease schedulerLeaseState

	jobsRun, jobsFailed atomic.Uint64
}

// Stats are a Runner's counters, for metrics.
type Stats struct {
	// JobsRun counts scheduled jobs run on this node; JobsFailed those
	// that failed (and stay due).
	JobsRun, JobsFailed uint64
	// FeedLag is how long ago the change feed was last read successfully
	// (this node's caches are confirmed as of then).
	FeedLag time.Duration
	// FeedUnconfirmed reports that the feed could not be read for longer
	// than the cache's grace: the caches are being purged and keys are
	// served from the store only.
	FeedUnconfirmed bool
}

// Stats returns the Runner's counters.
func (r *Runner) Stats() Stats {
	last, stale := r.FeedStatus()
	return Stats{JobsRun: r.jobsRun.Load(), JobsFailed: r.jobsFailed.Load(),
		FeedLag: max(r.svc.Now().Sub(last), 0), FeedUnconfirmed: stale}
}

// New returns a Runner over svc, positioned at the end of the change feed:
// build it right after svc, before anything is cached. It registers with
// svc for the deletion of the usage records of deleted keys. Call Start to
// run its work and Close to stop it.
func New(svc *kms.Service, cfg Config) (*Runner, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.SchedulerInterval <= 0 {
		cfg.SchedulerInterval = time.Second
	}
	if cfg.NodeID == "" {
		cfg.NodeID = kms.NewHexID()[:12]
	}
	r := &Runner{svc: svc, store: svc.Store(), log: svc.Logger(), cfg: cfg, stop: make(chan struct{})}
	seq, err := r.store.LastSeq(context.Background())
	if err != nil {
		return nil, fmt.Errorf("job: read change feed position: %w", err)
	}
	r.feed.seq = seq
	r.feed.staleAfter = 2*cfg.PollInterval + svc.CacheGrace()
	r.feed.lastSync.Store(svc.Now().UnixNano())
	svc.AddKeyRecords(r)
	return r, nil
}

// Start runs the change-feed follower, its watchdog, the job scheduler and
// the usage flusher until Close.
func (r *Runner) Start() {
	r.wg.Add(3)
	go r.runUsageFlusher()
	go r.followChanges()
	go r.runScheduler()
	r.wg.Add(1)
	go r.watchFeed()
}

// Close stops the background work (flushing the usage notes once more). It
// does not close the store.
func (r *Runner) Close() error {
	r.closeOne.Do(func() { close(r.stop) })
	r.wg.Wait()
	return nil
}
