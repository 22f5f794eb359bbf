package kms

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/trentkms/trent/internal/store"
)

const schedulerLease = "kms-scheduler"

// runScheduler runs due jobs while this node holds the scheduler lease.
func (s *Service) runScheduler() {
	defer s.wg.Done()
	t := time.NewTicker(s.schedInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.store.ReleaseLease(ctx, schedulerLease, s.nodeID)
			cancel()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := s.RunDueJobs(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("scheduler", "err", err)
		}
		cancel()
	}
}

// RunDueJobs runs every job that is due, if this node holds (or can take)
// the scheduler lease. It returns how many jobs ran. Tests with a controlled
// clock call it directly.
func (s *Service) RunDueJobs(ctx context.Context) (int, error) {
	ok, err := s.store.TryLease(ctx, schedulerLease, s.nodeID, 3*s.schedInterval+5*time.Second)
	if err != nil || !ok {
		return 0, err
	}
	now := s.now()
	ran := 0
	after := ""
	for {
		recs, err := s.store.List(ctx, kindJob, "", after, 100)
		if err != nil {
			return ran, err
		}
		for _, r := range recs {
			var j jobDoc
			if err := json.Unmarshal(r.Data, &j); err != nil {
				s.log.Error("undecodable job", "id", r.ID, "err", err)
				continue
			}
			if j.Due.After(now) {
				return ran, nil
			}
			done, err := s.runJob(ctx, r, j)
			if err != nil {
				s.log.Warn("job failed", "job", r.ID, "err", err)
				continue
			}
			if done {
				ran++
			}
		}
		if len(recs) < 100 {
			return ran, nil
		}
		after = recs[len(recs)-1].ID
	}
}

// runJob performs one job. The job record's deletion is committed with the
// work itself, so a job that two nodes race for runs once.
func (s *Service) runJob(ctx context.Context, rec store.Record, j jobDoc) (bool, error) {
	jobOp := store.Op{Kind: kindJob, ID: rec.ID, Delete: true, IfVersion: rec.Version}
	keyRec, err := s.store.Get(ctx, kindKey, j.KeyID)
	if errors.Is(err, store.ErrNotFound) {
		return true, s.store.Apply(ctx, jobOp)
	}
	if err != nil {
		return false, err
	}
	var d keyDoc
	if err := json.Unmarshal(keyRec.Data, &d); err != nil {
		return false, err
	}
	var ops []store.Op
	event := ""
	switch j.Action {
	case jobDelete:
		if d.State != StatePendingDeletion || !d.DeletionDate.Equal(j.Due) {
			ops = nil // stale job: the deletion was cancelled or rescheduled
			break
		}
		ops, err = s.deleteKeyOps(ctx, &d, keyRec.Version)
		if err != nil {
			return false, err
		}
		event = "DeleteKey"
	case jobRotate, jobExpire:
		var changed bool
		changed, event, err = s.lifecycleJob(&d, j)
		if err != nil {
			return false, err
		}
		if changed {
			data, err := json.Marshal(&d)
			if err != nil {
				return false, err
			}
			ops = []store.Op{{Kind: kindKey, ID: d.ID, Data: data, IfVersion: keyRec.Version}}
			ops = append(ops, s.followUpJobs(&d)...)
		}
	}
	if err := s.store.Apply(ctx, append(ops, jobOp)...); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return false, nil // another node ran it, or the key changed: next tick decides
		}
		return false, err
	}
	s.keys.Invalidate(d.ID)
	if event != "" && s.events != nil {
		_ = s.events(ctx, ServiceEvent{Name: event, Account: d.Account, KeyARN: s.keyARN(d.Account, d.ID), KeyID: d.ID, Time: s.now().UTC()})
	}
	return true, nil
}
