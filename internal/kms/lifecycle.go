package kms

import (
	"encoding/json"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// lifecycleJob applies a rotation or expiry job to d. It reports whether d
// changed and the service event to record.
func (s *Service) lifecycleJob(d *keyDoc, j jobDoc) (bool, string, error) {
	switch j.Action {
	case jobRotate:
		if !d.RotationEnabled || !d.NextRotation.Equal(j.Due) || d.State == StatePendingDeletion {
			return false, "", nil
		}
		if err := s.rotateMaterial(d, "AUTOMATIC"); err != nil {
			return false, "", err
		}
		d.NextRotation = d.NextRotation.Add(time.Duration(d.RotationPeriodDays) * 24 * time.Hour)
		return true, "RotateKey", nil
	case jobExpire:
		if d.ExpirationModel != "KEY_MATERIAL_EXPIRES" || !d.ValidTo.Equal(j.Due) {
			return false, "", nil
		}
		expireMaterial(d)
		return true, "DeleteExpiredKeyMaterial", nil
	}
	return false, "", nil
}

// followUpJobs returns job records for d's next scheduled actions.
func (s *Service) followUpJobs(d *keyDoc) []store.Op {
	var ops []store.Op
	if d.RotationEnabled && !d.NextRotation.IsZero() {
		data, _ := json.Marshal(jobDoc{Action: jobRotate, KeyID: d.ID, Due: d.NextRotation})
		ops = append(ops, store.Op{Kind: kindJob, ID: jobID(d.NextRotation, jobRotate, d.ID), Data: data})
	}
	return ops
}

// rotateMaterial adds fresh material to d and makes it current.
func (s *Service) rotateMaterial(d *keyDoc, rotationType string) error {
	material, err := s.generateMaterial(d.Spec)
	if err != nil {
		return err
	}
	defer clear(material)
	mid := newMaterialID()
	sealed, err := s.sealMaterial(d.ID, mid, material)
	if err != nil {
		return err
	}
	for i := range d.Materials {
		if d.Materials[i].State == MaterialCurrent {
			d.Materials[i].State = MaterialNonCurrent
		}
	}
	d.Materials = append(d.Materials, materialDoc{ID: mid, Sealed: sealed, State: MaterialCurrent, RotationType: rotationType, RotationDate: s.now().UTC()})
	d.CurrentMaterial = mid
	return nil
}

// expireMaterial deletes the imported material of d whose validity ended;
// the key returns to PendingImport.
func expireMaterial(d *keyDoc) {
	for i := range d.Materials {
		if d.Materials[i].Imported {
			d.Materials[i].Sealed = nil
			d.Materials[i].ImportState = "PENDING_IMPORT"
		}
	}
	if d.State != StatePendingDeletion {
		d.State = StatePendingImport
	}
}
