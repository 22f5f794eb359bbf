package kms

import (
	"time"

	"github.com/trentkms/trent/internal/store"
)

// Service event names: the eventName of the AwsServiceEvent records
// CloudTrail writes for actions KMS takes on its own.
const (
	// EventRotateKey records an automatic rotation of key material.
	EventRotateKey = "RotateKey"
	// EventDeleteExpiredKeyMaterial records the deletion of imported key
	// material whose ValidTo passed.
	EventDeleteExpiredKeyMaterial = "DeleteExpiredKeyMaterial"
	// EventDeleteKey records the deletion of a key at the end of its
	// waiting period.
	EventDeleteKey = "DeleteKey"
)

// Expiration models (ExpirationModelType enum) and import states.
const (
	ExpirationExpires       = "KEY_MATERIAL_EXPIRES"
	ExpirationDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	ImportStateImported     = "IMPORTED"
	ImportStatePending      = "PENDING_IMPORT"
)

// rotationRetry is how long a due rotation of a key that is not Enabled
// waits before it is looked at again. AWS does not rotate disabled keys and
// rotates them as soon as they are enabled again if the date passed.
const rotationRetry = time.Hour

// lifecycleJob applies a rotation or expiry job to d at time now. It reports
// whether d changed, the service event to record, and a job to schedule
// instead of this one (retry) if the work must wait.
//
// A job is only a trigger: what is due is read from the key itself
// (NextRotation, the materials' ValidTo), so a stale or duplicated job does
// nothing and a key never rotates twice for one due date.
func (s *Service) lifecycleJob(d *KeyDoc, j Job, now time.Time) (changed bool, event string, retry *Job, err error) {
	switch j.Action {
	case jobRotate:
		if !d.RotationEnabled || d.NextRotation.IsZero() || d.NextRotation.After(now) ||
			d.Origin != "AWS_KMS" || d.Spec != SymmetricDefault || IsReplica(d) {
			return false, "", nil, nil
		}
		if d.State != StateEnabled {
			return false, "", &Job{Action: jobRotate, KeyID: d.ID, Due: now.Add(rotationRetry)}, nil
		}
		if err := s.rotateMaterial(d, rotationAutomatic); err != nil {
			return false, "", nil, err
		}
		period := time.Duration(d.RotationPeriodDays) * day
		next := d.NextRotation.Add(period)
		if !next.After(now) {
			next = now.Add(period) // the scheduler was down for a whole period: rotate once, not once per missed period
		}
		d.NextRotation = next
		return true, EventRotateKey, nil, nil
	case jobExpire:
		if !expireMaterial(d, now) {
			return false, "", nil, nil
		}
		return true, EventDeleteExpiredKeyMaterial, nil, nil
	}
	return false, "", nil, nil
}

// followUpJobs returns job records for d's next scheduled actions: its next
// automatic rotation and the expiry of each imported material that expires.
// Writing a job that exists already is harmless (same ID, same content).
func (s *Service) followUpJobs(d *KeyDoc) []store.Op {
	var ops []store.Op
	if d.RotationEnabled && !d.NextRotation.IsZero() {
		ops = append(ops, rotationJobOp(d))
	}
	seen := map[int64]bool{}
	for _, m := range d.Materials {
		if !m.Imported || m.Sealed == nil || m.ExpirationModel != ExpirationExpires || m.ValidTo.IsZero() {
			continue
		}
		if seen[m.ValidTo.UnixNano()] {
			continue
		}
		seen[m.ValidTo.UnixNano()] = true
		ops = append(ops, ExpiryJobOp(d.ID, m.ValidTo))
	}
	return ops
}

// ExpiryJobOp returns the job record that deletes key id's imported
// materials whose validity ends at validTo.
func ExpiryJobOp(id string, validTo time.Time) store.Op {
	return Job{Action: jobExpire, KeyID: id, Due: validTo}.Op()
}

// rotateMaterial adds fresh KMS-generated material to d and makes it
// current. Earlier materials stay, NON_CURRENT, so that their ciphertexts
// still decrypt.
func (s *Service) rotateMaterial(d *KeyDoc, rotationType string) error {
	material, err := s.generateMaterial(d.Spec)
	if err != nil {
		return err
	}
	defer clear(material)
	mid := NewHexID()
	sealed, err := s.SealMaterial(d.ID, mid, material)
	if err != nil {
		return err
	}
	for i := range d.Materials {
		if d.Materials[i].State == MaterialCurrent {
			d.Materials[i].State = MaterialNonCurrent
		}
	}
	d.Materials = append(d.Materials, MaterialDoc{ID: mid, Sealed: sealed, State: MaterialCurrent, RotationType: rotationType, RotationDate: s.now().UTC()})
	d.CurrentMaterial = mid
	return nil
}

// expireMaterial deletes the imported materials of d whose validity ended
// by now. If the current material is among them the key returns to
// PendingImport (unless it is pending deletion). It reports whether
// anything expired. The materials' identities (ID, fingerprint) stay so
// that a re-import of the same bits restores them.
func expireMaterial(d *KeyDoc, now time.Time) bool {
	expired := false
	for i := range d.Materials {
		m := &d.Materials[i]
		if !m.Imported || m.Sealed == nil || m.ExpirationModel != ExpirationExpires || m.ValidTo.After(now) {
			continue
		}
		m.Sealed = nil
		m.ImportState = ImportStatePending
		expired = true
		if m.State == MaterialCurrent && d.State != StatePendingDeletion && d.State != StatePendingReplicaDeletion {
			d.State = StatePendingImport
		}
	}
	return expired
}
