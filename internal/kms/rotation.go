package kms

import (
	"context"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// Rotation limits (kms-api.md §4.1).
const (
	minRotationPeriodDays     = 90
	maxRotationPeriodDays     = 2560
	defaultRotationPeriodDays = 365
)

// Rotation types (RotationType enum).
const (
	rotationAutomatic = "AUTOMATIC"
	rotationOnDemand  = "ON_DEMAND"
)

const day = 24 * time.Hour

// OriginUnsupported is AWS's UnsupportedOperationException for an
// operation that a key's origin does not allow.
func OriginUnsupported(d *KeyDoc, arn string) error {
	return awserr.Newf(awserr.UnsupportedOperation, "%s origin is %s which is not valid for this operation.", arn, d.Origin)
}

// specUnsupported is the UnsupportedOperationException of rotation
// operations on keys that are not SYMMETRIC_DEFAULT.
func specUnsupported(d *KeyDoc, arn string) error {
	return awserr.Newf(awserr.UnsupportedOperation, "%s key spec is %s which is not valid for this operation.", arn, d.Spec)
}

// stateErr is the error of an operation that needs an Enabled key (the
// crypto column of the key-state table: Disabled gives DisabledException).
func stateErr(d *KeyDoc, arn string) error {
	switch d.State {
	case StateEnabled:
		return nil
	case StateDisabled:
		return awserr.Newf(awserr.Disabled, "%s is disabled.", arn)
	}
	return RequireUsable(&Key{doc: d, arn: arn})
}

// checkAutoRotation is the check of EnableKeyRotation and DisableKeyRotation:
// only Enabled symmetric keys with KMS-generated material rotate
// automatically.
func checkAutoRotation(d *KeyDoc, arn string) error {
	if IsReplica(d) {
		return NotPrimary(arn)
	}
	if d.Origin != "AWS_KMS" {
		return OriginUnsupported(d, arn)
	}
	if d.Spec != SymmetricDefault {
		return specUnsupported(d, arn)
	}
	return stateErr(d, arn)
}

// OwnKey rejects management of another account's key as AWS does (these
// operations are not cross-account: the key is simply not found).
func (s *Service) OwnKey(ctx context.Context, d *KeyDoc) error {
	if c := CallerFrom(ctx); c == nil || c.Account != d.Account {
		account := ""
		if c != nil {
			account = c.Account
		}
		return s.NotFoundKey(account, d.ID)
	}
	return nil
}

// rotationJobOp returns the job record that rotates d at d.NextRotation.
func rotationJobOp(d *KeyDoc) store.Op {
	return Job{Action: jobRotate, KeyID: d.ID, Due: d.NextRotation}.Op()
}

// EnableKeyRotation implements the EnableKeyRotation operation. The first
// automatic rotation is RotationPeriodInDays (default 365) days from now;
// changing the period of a key that already rotates moves its next rotation
// to the last rotation (or enabling) plus the new period, but never into the
// past. EnableKeyRotation returns UnsupportedOperationException for keys
// that are not SYMMETRIC_DEFAULT or whose origin is not AWS_KMS,
// DisabledException for a disabled key and KMSInvalidStateException for
// other states.
func (s *Service) EnableKeyRotation(ctx context.Context, in *wire.EnableKeyRotationInput) (*struct{}, error) {
	var v Validator
	v.IntRange(in.RotationPeriodInDays, "rotationPeriodInDays", minRotationPeriodDays, maxRotationPeriodDays)
	if err := v.Err(); err != nil {
		return nil, err
	}
	period := defaultRotationPeriodDays
	if in.RotationPeriodInDays != nil {
		period = int(*in.RotationPeriodInDays)
	}
	_, err := s.ManageKey(ctx, in.KeyID, "kms:EnableKeyRotation", func(d *KeyDoc, arn string) ([]store.Op, error) {
		if err := s.OwnKey(ctx, d); err != nil {
			return nil, err
		}
		if err := checkAutoRotation(d, arn); err != nil {
			return nil, err
		}
		now := s.now().UTC()
		var ops []store.Op
		next := now.Add(time.Duration(period) * day)
		if d.RotationEnabled && !d.NextRotation.IsZero() {
			if d.RotationPeriodDays == period {
				return nil, nil // nothing changes; keep the schedule
			}
			ops = append(ops, store.Op{Kind: KindJob, ID: jobID(d.NextRotation, jobRotate, d.ID), Delete: true})
			last := d.NextRotation.Add(-time.Duration(d.RotationPeriodDays) * day)
			next = last.Add(time.Duration(period) * day)
			if next.Before(now) {
				next = now
			}
		}
		d.RotationEnabled = true
		d.RotationPeriodDays = period
		d.NextRotation = next
		return append(ops, rotationJobOp(d)), nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// DisableKeyRotation implements the DisableKeyRotation operation. Its errors
// are those of EnableKeyRotation.
func (s *Service) DisableKeyRotation(ctx context.Context, in *wire.KeyIDInput) (*struct{}, error) {
	_, err := s.ManageKey(ctx, in.KeyID, "kms:DisableKeyRotation", func(d *KeyDoc, arn string) ([]store.Op, error) {
		if err := s.OwnKey(ctx, d); err != nil {
			return nil, err
		}
		if err := checkAutoRotation(d, arn); err != nil {
			return nil, err
		}
		var ops []store.Op
		if !d.NextRotation.IsZero() {
			ops = append(ops, store.Op{Kind: KindJob, ID: jobID(d.NextRotation, jobRotate, d.ID), Delete: true})
		}
		d.RotationEnabled = false
		d.RotationPeriodDays = 0
		d.NextRotation = time.Time{}
		return ops, nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// GetKeyRotationStatus implements the GetKeyRotationStatus operation. It
// works in every key state except PendingImport; it returns
// UnsupportedOperationException for keys that are not SYMMETRIC_DEFAULT,
// keys in custom key stores and imported keys awaiting material.
func (s *Service) GetKeyRotationStatus(ctx context.Context, in *wire.KeyIDInput) (*wire.GetKeyRotationStatusOutput, error) {
	lk, err := s.AuthorizedKey(ctx, in.KeyID, RefKeyOnly, "kms:GetKeyRotationStatus", nil, nil)
	if err != nil {
		return nil, err
	}
	d := lk.doc
	switch {
	case d.Origin == "AWS_CLOUDHSM" || d.Origin == "EXTERNAL_KEY_STORE":
		return nil, OriginUnsupported(d, lk.arn)
	case d.Spec != SymmetricDefault:
		return nil, specUnsupported(d, lk.arn)
	case d.Origin == "EXTERNAL" && d.State == StatePendingImport:
		return nil, OriginUnsupported(d, lk.arn)
	}
	out := &wire.GetKeyRotationStatusOutput{KeyID: lk.arn, KeyRotationEnabled: d.RotationEnabled}
	if d.RotationEnabled {
		p := int64(d.RotationPeriodDays)
		out.RotationPeriodInDays = &p
		out.NextRotationDate = wire.TS(d.NextRotation)
	}
	return out, nil
}

// RotateKeyOnDemand implements the RotateKeyOnDemand operation. For a key
// with KMS-generated material it creates new material at once (at most 25
// times per key: LimitExceededException), independently of the automatic
// schedule. For an imported symmetric key it makes the material imported
// with ImportType NEW_KEY_MATERIAL current (KMSInvalidStateException if
// there is none). Keys that are not SYMMETRIC_DEFAULT get
// UnsupportedOperationException with an empty message, as AWS answers;
// disabled keys DisabledException.
//
// AWS rotates asynchronously and reports OnDemandRotationStartDate while it
// works; Trent rotates within the request, so the rotation is complete (and
// visible to ListKeyRotations) when the call returns.
func (s *Service) RotateKeyOnDemand(ctx context.Context, in *wire.KeyIDInput) (*wire.RotateKeyOnDemandOutput, error) {
	lk, err := s.ManageKey(ctx, in.KeyID, "kms:RotateKeyOnDemand", func(d *KeyDoc, arn string) ([]store.Op, error) {
		if err := s.OwnKey(ctx, d); err != nil {
			return nil, err
		}
		if d.Spec != SymmetricDefault {
			return nil, awserr.New(awserr.UnsupportedOperation, "")
		}
		if IsReplica(d) {
			return nil, NotPrimary(arn)
		}
		if d.Origin != "AWS_KMS" && d.Origin != "EXTERNAL" {
			return nil, OriginUnsupported(d, arn)
		}
		if err := stateErr(d, arn); err != nil {
			return nil, err
		}
		if d.Origin == "EXTERNAL" {
			return nil, s.promotePending(d, arn)
		}
		if d.OnDemandRotations >= s.quotas.Resources(d.Account).OnDemandRotations {
			return nil, awserr.Newf(awserr.LimitExceeded, "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: %s", arn)
		}
		if err := s.rotateMaterial(d, rotationOnDemand); err != nil {
			return nil, err
		}
		d.OnDemandRotations++
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.RotateKeyOnDemandOutput{KeyID: lk.arn}, nil
}

// promotePending makes the imported material pending rotation current.
func (s *Service) promotePending(d *KeyDoc, arn string) error {
	idx := -1
	for i, m := range d.Materials {
		if m.State == MaterialPendingRotation && m.Sealed != nil {
			idx = i
		}
	}
	if idx < 0 {
		return awserr.Newf(awserr.KMSInvalidState, "No available key material pending rotation for the key: %s.", arn)
	}
	for i := range d.Materials {
		if d.Materials[i].State == MaterialCurrent {
			d.Materials[i].State = MaterialNonCurrent
		}
	}
	m := &d.Materials[idx]
	m.State = MaterialCurrent
	m.RotationType = rotationOnDemand
	m.RotationDate = s.now().UTC()
	d.CurrentMaterial = m.ID
	d.ExpirationModel, d.ValidTo = m.ExpirationModel, m.ValidTo
	return nil
}

// ListKeyRotations implements the ListKeyRotations operation. It lists a
// symmetric key's materials in the order they were created: by default
// (ROTATIONS_ONLY) those that a rotation made current, with
// ALL_KEY_MATERIAL every material including the initial one and imported
// material pending rotation. The marker is the last material ID returned;
// an unknown marker is InvalidMarkerException.
func (s *Service) ListKeyRotations(ctx context.Context, in *wire.ListKeyRotationsInput) (*wire.ListKeyRotationsOutput, error) {
	var v Validator
	limit := PageLimit(&v, in.Limit, 1000, 100)
	v.StrLen(in.Marker, "marker", 1, 1024)
	v.Enum(in.IncludeKeyMaterial, "includeKeyMaterial", enumIncludeKM)
	if err := v.Err(); err != nil {
		return nil, err
	}
	lk, err := s.OwnedKey(ctx, in.KeyID, "keyId", "kms:ListKeyRotations", nil)
	if err != nil {
		return nil, err
	}
	d := lk.doc
	if d.Spec != SymmetricDefault {
		return nil, specUnsupported(d, lk.arn)
	}
	if d.Origin == "AWS_CLOUDHSM" || d.Origin == "EXTERNAL_KEY_STORE" {
		return nil, OriginUnsupported(d, lk.arn)
	}
	all := in.IncludeKeyMaterial != nil && *in.IncludeKeyMaterial == "ALL_KEY_MATERIAL"
	start := 0
	if in.Marker != nil {
		start = -1
		for i, m := range d.Materials {
			if m.ID == *in.Marker {
				start = i + 1
			}
		}
		if start < 0 {
			return nil, awserr.New(awserr.InvalidMarker, "Invalid marker")
		}
	}
	out := &wire.ListKeyRotationsOutput{Rotations: []wire.RotationsListEntry{}}
	for _, m := range d.Materials[start:] {
		if !all && m.RotationType == "" {
			continue
		}
		if len(out.Rotations) == limit {
			out.Truncated = true
			out.NextMarker = out.Rotations[limit-1].KeyMaterialID
			break
		}
		e := wire.RotationsListEntry{KeyID: d.ID, KeyMaterialID: m.ID, KeyMaterialState: m.State, RotationType: m.RotationType}
		if m.RotationType != "" {
			e.RotationDate = wire.TS(m.RotationDate)
		}
		if m.Imported {
			e.KeyMaterialDescription = m.Description
			e.ImportState = m.ImportState
			e.ExpirationModel = m.ExpirationModel
			if m.ExpirationModel == ExpirationExpires {
				e.ValidTo = wire.TS(m.ValidTo)
			}
		}
		out.Rotations = append(out.Rotations, e)
	}
	return out, nil
}
