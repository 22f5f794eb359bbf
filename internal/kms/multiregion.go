package kms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/trentkms/trent/internal/algo"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// # Multi-Region keys
//
// A multi-Region key is a set of keys with one key ID in several Regions:
// one primary and its replicas. Each member is an ordinary key record in
// the store of its own Region, with its own independent properties
// (description, policy, grants, aliases, tags, enabled state, deletion).
// Its shared properties (key spec, usage, origin, materials and their
// versions, automatic rotation and its period) and the multi-Region
// configuration (PrimaryRegion, ReplicaRegions, MREpoch) are set on the
// primary and copied to the replicas by the replication concern (package
// replica), which the core tells of every write that changes them
// (Replication.Ops, committed atomically with that write).
//
// The core keeps the rules that hold within one Region: a replica does not
// rotate on its own, a primary with replicas is deleted through
// PendingReplicaDeletion, and DescribeKey shows the configuration.

// Replication is the multi-Region key concern as the core sees it
// (package replica implements it).
type Replication interface {
	// Ops returns the operations that make the other members of a
	// multi-Region key learn its state, to commit with the write that
	// changes it: old and d are the document before and after a write
	// that changed its shared properties or configuration (old is nil
	// for a new record), or d alone when deleted is set (the key is being
	// destroyed). Ops is a pure function of its arguments.
	Ops(old, d *KeyDoc, deleted bool) []store.Op
}

// SetReplication makes r the multi-Region key concern. Package replica
// calls it when it is built, before the node serves.
func (s *Service) SetReplication(r Replication) { s.replication = r }

// IsReplica reports whether d is a multi-Region replica key.
func IsReplica(d *KeyDoc) bool {
	return d.MultiRegion && d.PrimaryRegion != "" && d.PrimaryRegion != d.Region
}

// PrimaryOf returns the Region of d's primary key.
func PrimaryOf(d *KeyDoc) string {
	if d.PrimaryRegion == "" {
		return d.Region
	}
	return d.PrimaryRegion
}

// NotPrimary is AWS's error for an operation that only a multi-Region
// primary key allows.
func NotPrimary(arn string) error {
	return awserr.Newf(awserr.UnsupportedOperation, "%s is not a multi-region primary key.", arn)
}

// SharedMaterial is a key material as the members of a multi-Region key
// share it: everything but its sealed form.
type SharedMaterial struct {
	ID              string    `json:"id"`
	State           string    `json:"state"`
	RotationType    string    `json:"rotationType,omitempty"`
	RotationDate    time.Time `json:"rotationDate,omitzero"`
	Imported        bool      `json:"imported,omitempty"`
	ExpirationModel string    `json:"expirationModel,omitempty"`
	ValidTo         time.Time `json:"validTo,omitzero"`
	Description     string    `json:"description,omitempty"`
	Fingerprint     []byte    `json:"fingerprint,omitempty"`
}

// Shared is the shared state of a multi-Region key: its shared properties
// and configuration.
type Shared struct {
	ID                 string           `json:"id"`
	Account            string           `json:"account"`
	Spec               string           `json:"spec"`
	Usage              string           `json:"usage"`
	Origin             string           `json:"origin"`
	RotationEnabled    bool             `json:"rotationEnabled,omitempty"`
	RotationPeriodDays int              `json:"rotationPeriodDays,omitempty"`
	NextRotation       time.Time        `json:"nextRotation,omitzero"`
	OnDemandRotations  int              `json:"onDemandRotations,omitempty"`
	CurrentMaterial    string           `json:"currentMaterial,omitempty"`
	Materials          []SharedMaterial `json:"materials,omitempty"`
	PrimaryRegion      string           `json:"primaryRegion"`
	ReplicaRegions     []string         `json:"replicaRegions,omitempty"`
	ReplicaSince       map[string]int64 `json:"replicaSince,omitempty"`
	Epoch              int64            `json:"epoch"`
}

// SharedOf returns the shared state of d.
func SharedOf(d *KeyDoc) *Shared {
	sh := &Shared{
		ID: d.ID, Account: d.Account, Spec: d.Spec, Usage: d.Usage, Origin: d.Origin,
		RotationEnabled: d.RotationEnabled, RotationPeriodDays: d.RotationPeriodDays, NextRotation: d.NextRotation,
		OnDemandRotations: d.OnDemandRotations, CurrentMaterial: d.CurrentMaterial,
		PrimaryRegion: PrimaryOf(d), ReplicaRegions: d.ReplicaRegions, ReplicaSince: maps.Clone(d.ReplicaSince), Epoch: d.MREpoch,
	}
	for _, m := range d.Materials {
		sh.Materials = append(sh.Materials, SharedMaterial{
			ID: m.ID, State: m.State, RotationType: m.RotationType, RotationDate: m.RotationDate, Imported: m.Imported,
			ExpirationModel: m.ExpirationModel, ValidTo: m.ValidTo, Description: m.Description, Fingerprint: m.Fingerprint,
		})
	}
	return sh
}

func sharedBytes(d *KeyDoc) []byte {
	b, _ := json.Marshal(SharedOf(d))
	return b
}

// replicationOps returns the operations that tell the other members of
// the multi-Region key d of a write that changed its shared state (before
// is sharedBytes of the document before the write), or nil.
func (s *Service) replicationOps(before []byte, old, d *KeyDoc) []store.Op {
	if s.replication == nil || !d.MultiRegion || bytes.Equal(before, sharedBytes(d)) {
		return nil
	}
	if PrimaryOf(d) == d.Region {
		// Every state a primary sends has an epoch of its own, so that a
		// replica never takes an older state after a newer one (a
		// delivery overtaken by another, a replayed message).
		d.MREpoch++
	}
	return s.replication.Ops(old, d, false)
}

// ApplyShared makes d, a member of a multi-Region key in this Region, take
// the shared state sh that its primary sent: its shared properties and
// configuration, and the materials in it that d lacks, sealed under this
// Region's root key by seal (which returns nil for a material it cannot
// provide: imported material, which each Region imports itself). It
// reports whether anything changed. A material d holds and sh does not
// name stays (its ciphertexts still decrypt).
//
// A member's key spec, usage and origin are fixed when it is created (AWS
// never changes them, and a primary cannot): ApplyShared refuses a state
// that changes them, or that names ones no multi-Region key has, so that a
// peer cannot turn a replica into a key of another kind over material made
// for the first (KMSInvalidStateException).
func ApplyShared(d *KeyDoc, sh *Shared, seal func(materialID string) ([]byte, error)) (bool, error) {
	if err := checkShared(d, sh); err != nil {
		return false, err
	}
	before := sharedBytes(d)
	d.Spec, d.Usage, d.Origin = sh.Spec, sh.Usage, sh.Origin
	d.RotationEnabled, d.RotationPeriodDays, d.NextRotation = sh.RotationEnabled, sh.RotationPeriodDays, sh.NextRotation
	d.OnDemandRotations = sh.OnDemandRotations
	d.PrimaryRegion, d.ReplicaRegions, d.MREpoch = sh.PrimaryRegion, slices.Clone(sh.ReplicaRegions), sh.Epoch
	d.ReplicaSince = maps.Clone(sh.ReplicaSince)
	changedSeal := false
	for _, m := range sh.Materials {
		i := slices.IndexFunc(d.Materials, func(x MaterialDoc) bool { return x.ID == m.ID })
		if i < 0 {
			d.Materials = append(d.Materials, MaterialDoc{ID: m.ID})
			i = len(d.Materials) - 1
		}
		x := &d.Materials[i]
		x.State, x.RotationType, x.RotationDate, x.Imported = m.State, m.RotationType, m.RotationDate, m.Imported
		x.ExpirationModel, x.ValidTo, x.Description, x.Fingerprint = m.ExpirationModel, m.ValidTo, m.Description, m.Fingerprint
		if x.Sealed == nil {
			sealed, err := seal(m.ID)
			if err != nil {
				return false, err
			}
			if sealed != nil {
				x.Sealed, changedSeal = sealed, true
			}
			if m.Imported && x.Sealed == nil {
				x.ImportState = ImportStatePending
			}
		}
	}
	d.CurrentMaterial = sh.CurrentMaterial
	if d.Origin == "EXTERNAL" {
		// Each Region imports its own copy: the key is usable only when
		// its current material is.
		switch {
		case hasUsableMaterial(d) && d.State == StatePendingImport:
			d.State = StateEnabled
		case !hasUsableMaterial(d) && (d.State == StateEnabled || d.State == StateDisabled):
			d.State = StatePendingImport
		}
	}
	return changedSeal || !bytes.Equal(before, sharedBytes(d)), nil
}

func checkShared(d *KeyDoc, sh *Shared) error {
	if d.Spec != "" {
		if d.Spec != sh.Spec || d.Usage != sh.Usage || d.Origin != sh.Origin {
			return awserr.New(awserr.KMSInvalidState, "The key spec, key usage and origin of a multi-Region key do not change.")
		}
		return nil
	}
	if !slices.Contains(enumKeySpec, sh.Spec) || !usageAllowed(sh.Spec, sh.Usage) ||
		(sh.Origin != "AWS_KMS" && sh.Origin != "EXTERNAL") ||
		(sh.Origin == "EXTERNAL" && sh.Spec != SymmetricDefault && !importableSpec(sh.Spec)) {
		return awserr.New(awserr.KMSInvalidState, "The key spec, key usage or origin is not one of a multi-Region key.")
	}
	return nil
}

// CheckMaterial checks that material (material ID mid) is key material of
// a key of spec and usage, as a replica receives it from its primary: 32
// bytes under a material ID a ciphertext can name for SYMMETRIC_DEFAULT,
// else what package algo parses for the spec.
func CheckMaterial(spec, usage, mid string, material []byte) error {
	if spec == SymmetricDefault {
		if _, err := ciphertext.ParseMaterialID(mid); err != nil || len(material) != 32 {
			return errors.New("kms: a symmetric key material is 32 bytes under a 64-hex-digit material ID")
		}
		return nil
	}
	if _, err := algo.ParseKey(spec, usage, material); err != nil {
		return fmt.Errorf("kms: the key material is not one of a %s key: %w", spec, err)
	}
	return nil
}

// OpenMaterial returns the plaintext of material m of d, which its caller
// clears after use, or nil if this Region holds none (imported material
// not imported here, or expired).
func (s *Service) OpenMaterial(d *KeyDoc, m *MaterialDoc) ([]byte, error) {
	if m.Sealed == nil {
		return nil, nil
	}
	return s.root.Open(m.Sealed, materialAAD(d.ID, m.ID))
}

// ReadKey returns the stored document of key id, and its version, or an
// error wrapping store.ErrNotFound.
func (s *Service) ReadKey(ctx context.Context, id string) (*KeyDoc, int64, error) {
	rec, err := s.store.Get(ctx, kindKey, id)
	if err != nil {
		return nil, 0, err
	}
	var d KeyDoc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, 0, fmt.Errorf("kms: decode key %s: %w", id, err)
	}
	return &d, rec.Version, nil
}

// CreateReplica stores d, a new replica key of this Region, with extra
// operations in the same write. It returns an error wrapping
// store.ErrExists if a key of that ID exists here.
func (s *Service) CreateReplica(ctx context.Context, d *KeyDoc, extra ...store.Op) error {
	if d.Region != s.region || !d.MultiRegion {
		return errors.New("kms: a replica of another Region, or not multi-Region")
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.insertCounted(ctx, d, data, false, extra...); err != nil {
		return err
	}
	s.keys.Invalidate(d.ID)
	return nil
}

// ARNIn returns the ARN of key id of account in region.
func (s *Service) ARNIn(region, account, id string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", s.partition, region, account, id)
}

// mrConfig returns the MultiRegionConfiguration of d as its own Region
// shows it.
func (s *Service) mrConfig(d *KeyDoc) *wire.MultiRegionConfiguration {
	primary := PrimaryOf(d)
	c := &wire.MultiRegionConfiguration{
		MultiRegionKeyType: "PRIMARY",
		PrimaryKey:         &wire.MultiRegionKey{Arn: s.ARNIn(primary, d.Account, d.ID), Region: primary},
		ReplicaKeys:        []wire.MultiRegionKey{},
	}
	if primary != d.Region {
		c.MultiRegionKeyType = "REPLICA"
	}
	for _, r := range d.ReplicaRegions {
		k := wire.MultiRegionKey{Arn: s.ARNIn(r, d.Account, d.ID), Region: r}
		if primary == d.Region && slices.Contains(d.ReplicaPending, r) {
			k.ReplicationStatus = "PENDING"
		}
		c.ReplicaKeys = append(c.ReplicaKeys, k)
	}
	return c
}

// MetadataIn returns the KeyMetadata of d as the Region d.Region shows it
// (ReplicateKey's answer describes a replica of another Region).
func (s *Service) MetadataIn(d *KeyDoc) *wire.KeyMetadata {
	lk := &Key{doc: d, arn: s.ARNIn(d.Region, d.Account, d.ID)}
	if d.Spec == SymmetricDefault {
		lk.current = d.CurrentMaterial
	}
	return s.metadata(lk)
}

// CheckPolicy validates a key policy for key keyARN and returns the
// principals it binds (MalformedPolicyDocumentException, the lockout
// safety check unless bypass).
func (s *Service) CheckPolicy(ctx context.Context, doc, keyARN string, bypass bool) (map[string]string, error) {
	return s.checkPolicy(ctx, doc, keyARN, bypass)
}

// ValidateTags checks tags as CreateKey and TagResource do (TagException).
func ValidateTags(tags []wire.Tag) error { return validateTags(tags) }

// TagConditions adds the aws:RequestTag and aws:TagKeys conditions of tags.
func TagConditions(conds map[string][]string, tags []wire.Tag) { tagConditions(conds, tags) }

// StartDeletion moves d, a multi-Region primary key in
// PendingReplicaDeletion whose last replica is gone, to PendingDeletion:
// its waiting period begins now. It returns the deletion job's operation.
func (s *Service) StartDeletion(d *KeyDoc) store.Op {
	due := s.now().UTC().Add(time.Duration(d.PendingWindowDays) * day)
	d.State = StatePendingDeletion
	d.DeletionDate = due
	return Job{Action: jobDelete, KeyID: d.ID, Due: due}.Op()
}

// ErrNotMultiRegion is UnsupportedOperationException for a multi-Region
// operation on a key that is not multi-Region.
func ErrNotMultiRegion(arn string) error {
	return awserr.Newf(awserr.UnsupportedOperation, "%s is not a multi-region key.", arn)
}

// FollowUpJobs returns the job records of d's next scheduled actions (its
// automatic rotation, the expiry of imported materials): a replica that
// becomes primary takes over its key's rotation schedule.
func (s *Service) FollowUpJobs(d *KeyDoc) []store.Op { return s.followUpJobs(d) }

// KeyOf returns a Key over d, for the state checks (RequireUsable) of a
// document read for writing.
func KeyOf(d *KeyDoc, arn string) *Key { return &Key{doc: d, arn: arn} }
