package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// # Jobs
//
// Scheduled work (a key's deletion at the end of its waiting period, its
// automatic rotation, the expiry of imported material) is a job record
// whose removal is part of the same atomic write as the work itself, so a
// job runs exactly once even when several nodes race for it. The
// operations that schedule work write job records; package job's scheduler
// finds the due ones and calls RunJob. A concern that schedules work of its
// own (keyimport purges expired import parameters) registers a JobHandler
// for its action.

// KindJob is the record kind of jobs. A job's record ID sorts by due time:
// "<unix-nanos, 20 digits>/<action>/<keyID>" (Job.ID).
const KindJob = "job"

// Job is a scheduled action: the stored form of a job record.
type Job struct {
	Action string `json:"action"`
	// KeyID is the key the job acts on, or for a concern's action what
	// that concern says (keyimport's purge: the import token ID).
	KeyID string    `json:"keyId"`
	Due   time.Time `json:"due"`
}

// The core's job actions.
const (
	jobDelete = "delete"
	jobRotate = "rotate"
	jobExpire = "expire"
)

// ID returns j's record ID.
func (j Job) ID() string { return jobID(j.Due, j.Action, j.KeyID) }

// Op returns the operation that writes j (it overwrites a record of the
// same ID, which holds the same job: writing a job twice is harmless).
func (j Job) Op() store.Op {
	data, _ := json.Marshal(j)
	return store.Op{Kind: KindJob, ID: j.ID(), Data: data}
}

func jobID(due time.Time, action, keyID string) string {
	return fmt.Sprintf("%020d/%s/%s", due.UnixNano(), action, keyID)
}

// A JobHandler runs a due job of an action that a concern schedules. It
// must commit the deletion of the job record rec (with IfVersion) in the
// same Apply as its work, and report whether it did the work: false and no
// error when another node ran the job first.
type JobHandler func(ctx context.Context, rec store.Record, j Job) (ran bool, err error)

// HandleJobs makes h run the jobs of action. Concerns call it when they
// are built, before the scheduler starts.
func (s *Service) HandleJobs(action string, h JobHandler) {
	if s.jobHandlers == nil {
		s.jobHandlers = map[string]JobHandler{}
	}
	s.jobHandlers[action] = h
}

// JobResult is what RunJob did, for the scheduler.
type JobResult struct {
	// Ran reports that the job did its work (false: another node ran it,
	// or the key changed meanwhile; the next run decides).
	Ran bool
	// Event, when not empty, names the service event the audit trail must
	// record (EventDeleteKey, EventRotateKey, EventDeleteExpiredKeyMaterial)
	// for key KeyID of Account.
	Event   string
	Account string
	KeyID   string
	// Deleted reports that the job deleted key KeyID.
	Deleted bool
}

// RunJob performs job j, whose record is rec. The job record's deletion is
// committed with the work itself, in one atomic Apply that also checks the
// key's version, so a job that two nodes race for runs once: the loser's
// Apply fails with ErrConflict and changes nothing. A job is only a
// trigger: what is due is read from the key itself, so a stale job (the
// deletion was cancelled, the rotation rescheduled) is removed and does
// nothing. Jobs of a concern's action go to its JobHandler.
func (s *Service) RunJob(ctx context.Context, rec store.Record, j Job) (JobResult, error) {
	if h := s.jobHandlers[j.Action]; h != nil {
		ran, err := h(ctx, rec, j)
		return JobResult{Ran: ran}, err
	}
	jobOp := store.Op{Kind: KindJob, ID: rec.ID, Delete: true, IfVersion: rec.Version}
	keyRec, err := s.store.Get(ctx, kindKey, j.KeyID)
	if errors.Is(err, store.ErrNotFound) {
		return JobResult{Ran: true}, s.store.Apply(ctx, jobOp)
	}
	if err != nil {
		return JobResult{}, err
	}
	var d KeyDoc
	if err := json.Unmarshal(keyRec.Data, &d); err != nil {
		return JobResult{}, err
	}
	var ops []store.Op
	res := JobResult{Ran: true, Account: d.Account, KeyID: d.ID}
	switch j.Action {
	case jobDelete:
		if d.State != StatePendingDeletion || !d.DeletionDate.Equal(j.Due) {
			ops = nil // stale job: the deletion was cancelled or rescheduled
			break
		}
		ops, err = s.deleteKeyOps(ctx, &d, keyRec.Version)
		if err != nil {
			return JobResult{}, err
		}
		if d.MultiRegion && s.replication != nil {
			ops = append(ops, s.replication.Ops(nil, &d, true)...)
		}
		res.Event, res.Deleted = EventDeleteKey, true
	case jobRotate, jobExpire:
		before, old := sharedBytes(&d), d
		changed, ev, retry, err := s.lifecycleJob(&d, j, s.now().UTC())
		if err != nil {
			return JobResult{}, err
		}
		res.Event = ev
		if changed {
			repl := s.replicationOps(before, &old, &d) // may mark replicas pending in d
			data, err := json.Marshal(&d)
			if err != nil {
				return JobResult{}, err
			}
			ops = []store.Op{{Kind: kindKey, ID: d.ID, Data: data, IfVersion: keyRec.Version}}
			ops = append(ops, repl...)
			for _, op := range s.followUpJobs(&d) {
				if op.ID != rec.ID {
					ops = append(ops, op)
				}
			}
		}
		if retry != nil {
			// A retry is only a trigger: it rereads the key when due.
			ops = append(ops, retry.Op())
		}
	}
	if err := s.store.Apply(ctx, append(ops, jobOp)...); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return JobResult{}, nil // another node ran it, or the key changed: next tick decides
		}
		return JobResult{}, err
	}
	s.keys.Invalidate(d.ID)
	for _, op := range ops {
		if op.Kind == kindAlias {
			s.aliases.Invalidate(op.ID)
		}
	}
	return res, nil
}
