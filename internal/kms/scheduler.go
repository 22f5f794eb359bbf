package kms

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/trentkms/trent/internal/store"
)

const schedulerLease = "kms-scheduler"

// jobPage is how many job records RunDueJobs reads at a time. Job IDs sort
// by due time, so an idle tick reads one page and stops at the first job
// that is not due.
const jobPage = 32

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
//
// While the audit trail cannot take records (Config.EventsReady), it runs
// nothing and does not take the lease (another node whose trail can may):
// a job acts first and records its event after, so running it then would
// destroy or rotate keys unrecorded.
func (s *Service) RunDueJobs(ctx context.Context) (int, error) {
	if !s.canRecordEvents() {
		return 0, nil
	}
	ok, err := s.store.TryLease(ctx, schedulerLease, s.nodeID, 3*s.schedInterval+5*time.Second)
	if err != nil || !ok {
		return 0, err
	}
	now := s.now()
	ran := 0
	after := ""
	for {
		recs, err := s.store.List(ctx, kindJob, "", after, jobPage)
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
			if !s.canRecordEvents() {
				return ran, nil // the trail filled meanwhile: the rest waits
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
		if len(recs) < jobPage {
			return ran, nil
		}
		after = recs[len(recs)-1].ID
	}
}

// canRecordEvents reports whether a job's service event can be recorded now.
func (s *Service) canRecordEvents() bool {
	return s.eventsReady == nil || s.eventsReady() == nil
}

// runJob performs one job. The job record's deletion is committed with the
// work itself, in one atomic Apply that also checks the key's version, so a
// job that two nodes race for runs once: the loser's Apply fails with
// ErrConflict and changes nothing.
func (s *Service) runJob(ctx context.Context, rec store.Record, j jobDoc) (bool, error) {
	jobOp := store.Op{Kind: kindJob, ID: rec.ID, Delete: true, IfVersion: rec.Version}
	if j.Action == jobPurgeImport {
		// KeyID holds the import token ID: its wrapping key pair expired.
		err := s.store.Apply(ctx, jobOp, store.Op{Kind: kindImportParams, ID: j.KeyID, Delete: true})
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
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
		event = EventDeleteKey
	case jobRotate, jobExpire:
		changed, ev, retry, err := s.lifecycleJob(&d, j, s.now().UTC())
		if err != nil {
			return false, err
		}
		event = ev
		if changed {
			data, err := json.Marshal(&d)
			if err != nil {
				return false, err
			}
			ops = []store.Op{{Kind: kindKey, ID: d.ID, Data: data, IfVersion: keyRec.Version}}
			for _, op := range s.followUpJobs(&d) {
				if op.ID != rec.ID {
					ops = append(ops, op)
				}
			}
		}
		if retry != nil {
			data, _ := json.Marshal(retry)
			// A retry is only a trigger: it rereads the key when due.
			ops = append(ops, store.Op{Kind: kindJob, ID: jobID(retry.Due, retry.Action, d.ID), Data: data})
		}
	}
	if err := s.store.Apply(ctx, append(ops, jobOp)...); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return false, nil // another node ran it, or the key changed: next tick decides
		}
		return false, err
	}
	s.keys.Invalidate(d.ID)
	for _, op := range ops {
		switch {
		case op.Kind == kindAlias:
			s.aliases.Invalidate(op.ID)
		case op.Kind == kindKey && op.Delete:
			s.forgetUsage(op.ID)
		}
	}
	if event != "" && s.events != nil {
		ev := ServiceEvent{Name: event, Account: d.Account, KeyARN: s.keyARN(d.Account, d.ID), KeyID: d.ID, Time: s.now().UTC()}
		if err := s.events(ctx, ev); err != nil {
			s.log.Error("record service event", "event", event, "key", ev.KeyARN, "err", err)
		}
	}
	return true, nil
}
