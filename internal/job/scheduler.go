package job

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/store"
)

const schedulerLease = "kms-scheduler"

// jobPage is how many job records RunDueJobs reads at a time. Job IDs sort
// by due time, so an idle tick reads one page and stops at the first job
// that is not due.
const jobPage = 32

// runScheduler runs due jobs while this node holds the scheduler lease.
func (r *Runner) runScheduler() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.SchedulerInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			r.lease.forget()
			_ = r.store.ReleaseLease(ctx, schedulerLease, r.cfg.NodeID)
			cancel()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := r.RunDueJobs(ctx); err != nil && !errors.Is(err, context.Canceled) {
			r.log.Warn("scheduler", "err", err)
		}
		cancel()
	}
}

// RunDueJobs runs every job that is due, if this node holds (or can take)
// the scheduler lease. It returns how many jobs ran. Tests with a controlled
// clock call it directly.
//
// While the audit trail cannot take records (Config.EventsReady), it runs
// nothing and does not take the lease (another node whose trail can may):
// a job acts first and records its event after, so running it then would
// destroy or rotate keys unrecorded.
func (r *Runner) RunDueJobs(ctx context.Context) (int, error) {
	if !r.canRecordEvents() {
		return 0, nil
	}
	ok, err := r.lease.hold(ctx, r)
	if err != nil || !ok {
		return 0, err
	}
	now := r.svc.Now()
	ran := 0
	after := ""
	for {
		recs, err := r.store.List(ctx, kms.KindJob, "", after, jobPage)
		if err != nil {
			return ran, err
		}
		for _, rec := range recs {
			var j kms.Job
			if err := json.Unmarshal(rec.Data, &j); err != nil {
				r.log.Error("undecodable job", "id", rec.ID, "err", err)
				continue
			}
			if j.Due.After(now) {
				return ran, nil
			}
			if !r.canRecordEvents() {
				return ran, nil // the trail filled meanwhile: the rest waits
			}
			// A long tick (deliveries to peers) can outlast the lease:
			// each job checks it again (from memory, while it is fresh).
			if held, err := r.lease.hold(ctx, r); err != nil || !held {
				return ran, err
			}
			done, err := r.runJob(ctx, rec, j)
			if err != nil {
				r.jobsFailed.Add(1)
				r.log.Warn("job failed", "job", rec.ID, "err", err)
				continue
			}
			if done {
				r.jobsRun.Add(1)
				ran++
			}
		}
		if len(recs) < jobPage {
			return ran, nil
		}
		after = recs[len(recs)-1].ID
	}
}

// schedulerLeaseState remembers when this node last took or renewed the
// scheduler lease, so that a tick within the first half of its term runs
// without writing to the store: an idle node renews every few seconds,
// not every second (on SQLite each renewal is a synchronous WAL commit).
//
// The lease only keeps nodes from doing the same work twice; the stores'
// optimistic concurrency keeps a job from running twice even when two
// nodes both think they hold it (TestRotationNodesRace).
type schedulerLeaseState struct {
	mu sync.Mutex
	// mono and domain are when the lease was last renewed, on the
	// monotonic clock and on the domain's (a test's or --dev's clock may
	// jump): the renewal is trusted for half its term on both.
	mono, domain time.Time
	held         bool
}

// hold reports whether r's node holds the scheduler lease, renewing it
// once half of its term has passed on either clock.
func (l *schedulerLeaseState) hold(ctx context.Context, r *Runner) (bool, error) {
	ttl := 3*r.cfg.SchedulerInterval + 5*time.Second
	l.mu.Lock()
	defer l.mu.Unlock()
	mono, domain := time.Now(), r.svc.Now()
	if l.held {
		if since := domain.Sub(l.domain); since >= 0 && since < ttl/2 && mono.Sub(l.mono) < ttl/2 {
			return true, nil
		}
	}
	ok, err := r.store.TryLease(ctx, schedulerLease, r.cfg.NodeID, ttl)
	l.held = ok && err == nil
	l.mono, l.domain = mono, domain
	return ok, err
}

// forget makes the next hold ask the store (after the lease is released).
func (l *schedulerLeaseState) forget() {
	l.mu.Lock()
	l.held = false
	l.mu.Unlock()
}

// canRecordEvents reports whether a job's service event can be recorded now.
func (r *Runner) canRecordEvents() bool {
	return r.cfg.EventsReady == nil || r.cfg.EventsReady() == nil
}

// runJob performs one job (kms.Service.RunJob), then forgets the usage
// notes of a key it deleted and records its service event.
func (r *Runner) runJob(ctx context.Context, rec store.Record, j kms.Job) (bool, error) {
	res, err := r.svc.RunJob(ctx, rec, j)
	if err != nil || !res.Ran {
		return false, err
	}
	if res.Deleted {
		r.forgetUsage(res.KeyID)
	}
	if res.Event != "" && r.cfg.Events != nil {
		ev := Event{Name: res.Event, Account: res.Account, KeyARN: r.svc.KeyARN(res.Account, res.KeyID), KeyID: res.KeyID, Time: r.svc.Now().UTC()}
		if err := r.cfg.Events(ctx, ev); err != nil {
			r.log.Error("record service event", "event", res.Event, "key", ev.KeyARN, "err", err)
		}
	}
	return true, nil
}
