package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

const kindAccountKey = "acctkey" // index: account/keyID -> (empty), for ListKeys

// DefaultKeyPolicy returns the key policy AWS KMS gives a key created without
// one: the account's root principal may do everything, which also lets the
// account's IAM policies grant access. The text is formatted as AWS returns it.
func DefaultKeyPolicy(partition, account string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:` + partition + `:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// PolicyChecker is an optional capability of an Authorizer: it validates a
// key policy document (MalformedPolicyDocumentException, also for a policy
// naming a user or role that does not exist) and applies AWS's policy
// lockout safety check for the caller unless bypass is set. It returns the
// unique ID of each IAM user and role the policy names (ARN -> ID), which
// the key stores with the policy and hands back to Authorizer.Prepare.
type PolicyChecker interface {
	CheckKeyPolicy(ctx context.Context, doc string, caller *Caller, keyARN string, bypass bool) (map[string]string, error)
}

// checkPolicy validates a key policy and returns the principals it binds.
func (s *Service) checkPolicy(ctx context.Context, doc, keyARN string, bypass bool) (map[string]string, error) {
	if limit := s.policyLimit(keyARN); len(doc) > limit {
		return nil, awserr.Newf(awserr.LimitExceeded, "Policy document exceeds the maximum size of %d bytes.", limit)
	}
	if pc, ok := s.authz.(PolicyChecker); ok {
		return pc.CheckKeyPolicy(ctx, doc, CallerFrom(ctx), keyARN, bypass)
	}
	if !json.Valid([]byte(doc)) {
		return nil, awserr.New(awserr.MalformedPolicyDocument, "The new key policy will not allow you to update the key policy in the future.")
	}
	return nil, nil
}

// policyView returns a key's policy as GetKeyPolicy shows it: as stored,
// except that a user or role it names that no longer exists (or was
// re-created, with a new unique ID) is shown as the unique ID the policy
// was bound to, as AWS shows it.
func (s *Service) policyView(ctx context.Context, d *KeyDoc) (string, error) {
	r := s.Resolver()
	if r == nil || len(d.PolicyPrincipals) == 0 {
		return d.Policy, nil
	}
	var gone map[string]string
	for arn, id := range d.PolicyPrincipals {
		cur, _, err := r.PrincipalID(ctx, arn)
		if err != nil {
			return "", s.StoreErr(ctx, err)
		}
		if cur != id {
			if gone == nil {
				gone = make(map[string]string)
			}
			gone[arn] = id
		}
	}
	return policy.RenderPrincipals(d.Policy, gone), nil
}

// CreateKey implements the CreateKey operation.
func (s *Service) CreateKey(ctx context.Context, in *wire.CreateKeyInput) (*wire.KeyMetadataOutput, error) {
	var v Validator
	v.StrLen(in.Policy, "policy", 1, 131072)
	v.StrLen(in.Description, "description", 0, 8192)
	v.Enum(in.KeyUsage, "keyUsage", enumKeyUsage)
	v.Enum(in.CustomerMasterKeySpec, "customerMasterKeySpec", enumCMKSpec)
	v.Enum(in.KeySpec, "keySpec", enumKeySpec)
	v.Enum(in.Origin, "origin", enumOrigin)
	v.StrLen(in.CustomKeyStoreID, "customKeyStoreId", 1, 64)
	v.StrLen(in.XksKeyID, "xksKeyId", 1, 128)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	conds := map[string][]string{}
	spec := "SYMMETRIC_DEFAULT"
	switch {
	case in.KeySpec != nil && in.CustomerMasterKeySpec != nil:
		return nil, awserr.New(awserr.Validation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
	case in.KeySpec != nil:
		spec = *in.KeySpec
	case in.CustomerMasterKeySpec != nil:
		spec = *in.CustomerMasterKeySpec
	}
	if spec == "SM2" && !s.enableSM2 {
		return nil, awserr.New(awserr.Validation, "KeySpec SM2 is supported only in China Regions. Start Trent with --enable-sm2 to serve it elsewhere.")
	}
	usage := ""
	if in.KeyUsage != nil {
		usage = *in.KeyUsage
	}
	if usage == "" {
		if spec != "SYMMETRIC_DEFAULT" {
			return nil, awserr.New(awserr.Validation, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
		}
		usage = "ENCRYPT_DECRYPT"
	}
	if !usageAllowed(spec, usage) {
		return nil, awserr.Newf(awserr.Validation, "KeyUsage %s is not compatible with KeySpec %s", usage, spec)
	}
	if err := FIPSSpecError("KeySpec", spec); err != nil {
		return nil, err
	}
	origin := "AWS_KMS"
	if in.Origin != nil {
		origin = *in.Origin
	}
	multiRegion := in.MultiRegion != nil && *in.MultiRegion
	conds["kms:keyspec"] = []string{spec}
	conds["kms:keyusage"] = []string{usage}
	conds["kms:keyorigin"] = []string{origin}
	conds["kms:multiregion"] = []string{fmt.Sprint(multiRegion)}
	bypass := in.BypassPolicyLockoutSafetyCheck != nil && *in.BypassPolicyLockoutSafetyCheck
	conds["kms:bypasspolicylockoutsafetycheck"] = []string{fmt.Sprint(bypass)}
	tagConditions(conds, in.Tags)
	if err := s.AuthorizeAccount(ctx, "kms:CreateKey", conds); err != nil {
		return nil, err
	}
	if in.Tags != nil {
		if err := s.AuthorizeAccount(ctx, "kms:TagResource", conds); err != nil {
			return nil, err
		}
	}

	now := s.now().UTC()
	d := &KeyDoc{
		ID: createKeyID(ctx, multiRegion), Account: caller.Account, Region: s.region, Created: now,
		Spec: spec, Usage: usage, Origin: origin, State: StateEnabled, Manager: "CUSTOMER",
		MultiRegion: multiRegion,
	}
	if in.Description != nil {
		d.Description = *in.Description
	}
	arn := s.KeyARN(d.Account, d.ID)
	if in.Policy != nil {
		ids, err := s.checkPolicy(ctx, *in.Policy, arn, bypass)
		if err != nil {
			return nil, err
		}
		d.Policy, d.PolicyPrincipals = *in.Policy, ids
	} else {
		d.Policy = DefaultKeyPolicy(s.partition, d.Account)
	}
	for _, t := range in.Tags {
		d.Tags = append(d.Tags, TagDoc{Key: *t.TagKey, Value: *t.TagValue})
	}
	switch origin {
	case "AWS_KMS":
		if err := s.NewKeyMaterial(d); err != nil {
			return nil, err
		}
	case "EXTERNAL":
		if spec != "SYMMETRIC_DEFAULT" && !importableSpec(spec) {
			return nil, awserr.Newf(awserr.UnsupportedOperation, "KeySpec %s does not support Origin EXTERNAL.", spec)
		}
		d.State = StatePendingImport
	case "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE":
		if err := s.keyStores.CreateKey(ctx, d, in); err != nil {
			return nil, err
		}
	}
	if multiRegion && origin != "AWS_KMS" && origin != "EXTERNAL" {
		return nil, awserr.New(awserr.UnsupportedOperation, "Multi-Region keys are not supported in custom key stores.")
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	if err := s.InsertKey(ctx, d, data); err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	lk, err := s.materialize(d, 1)
	if err != nil {
		return nil, err
	}
	s.keys.Put(d.ID, lk, 1)
	NoteKey(ctx, lk.arn)
	return &wire.KeyMetadataOutput{KeyMetadata: s.metadata(lk)}, nil
}

// NewKeyMaterial gives d, a key being created, fresh material of its spec,
// sealed by the root key, as its current material.
func (s *Service) NewKeyMaterial(d *KeyDoc) error {
	material, err := s.generateMaterial(d.Spec)
	if err != nil {
		return err
	}
	mid := NewHexID()
	sealed, err := s.SealMaterial(d.ID, mid, material)
	clear(material)
	if err != nil {
		return err
	}
	d.Materials = []MaterialDoc{{ID: mid, Sealed: sealed, State: MaterialCurrent, RotationDate: d.Created}}
	d.CurrentMaterial = mid
	return nil
}

// generateMaterial creates fresh key material for spec.
func (s *Service) generateMaterial(spec string) ([]byte, error) {
	if spec == "SYMMETRIC_DEFAULT" {
		b := make([]byte, 32)
		if _, err := s.rand.Read(b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return generateAsymmetric(s.rand, spec)
}

// metadata builds KeyMetadata for a key.
func (s *Service) metadata(lk *Key) *wire.KeyMetadata {
	d := lk.doc
	m := &wire.KeyMetadata{
		AWSAccountID: d.Account, KeyID: d.ID, Arn: lk.arn, CreationDate: wire.TS(d.Created),
		Enabled: enabledState(d.State), Description: d.Description, KeyUsage: d.Usage,
		KeyState: d.State, Origin: d.Origin, KeyManager: "CUSTOMER", KeySpec: d.Spec,
		MultiRegion: d.MultiRegion, CustomKeyStoreID: d.CustomKeyStoreID, CloudHsmClusterID: d.CloudHsmClusterID,
	}
	if d.Manager != "" {
		m.KeyManager = d.Manager
	}
	if slices.Contains(enumCMKSpec, d.Spec) {
		m.CustomerMasterKeySpec = d.Spec
	}
	m.EncryptionAlgorithms, m.SigningAlgorithms, m.MacAlgorithms, m.KeyAgreementAlgorithms, m.EncapsulationAlgorithms = algorithmsFor(d.Spec, d.Usage)
	if d.State == StatePendingDeletion {
		m.DeletionDate = wire.TS(d.DeletionDate)
		w := d.PendingWindowDays
		m.PendingDeletionWindowDays = &w
	}
	if d.State == StatePendingReplicaDeletion {
		w := d.PendingWindowDays
		m.PendingDeletionWindowDays = &w
	}
	if d.Origin == "EXTERNAL" && d.ExpirationModel != "" {
		m.ExpirationModel = d.ExpirationModel
		if d.ExpirationModel == "KEY_MATERIAL_EXPIRES" {
			m.ValidTo = wire.TS(d.ValidTo)
		}
	}
	if d.Spec == "SYMMETRIC_DEFAULT" && lk.current != "" {
		m.CurrentKeyMaterialID = lk.current
	}
	if d.MultiRegion {
		m.MultiRegionConfiguration = s.mrConfig(d)
	}
	if d.XksKeyID != "" {
		m.XksKeyConfiguration = &wire.XksKeyConfiguration{ID: d.XksKeyID}
	}
	return m
}

// DescribeKey implements the DescribeKey operation.
func (s *Service) DescribeKey(ctx context.Context, in *wire.KeyIDInput) (*wire.KeyMetadataOutput, error) {
	var v Validator
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	lk, err := s.AuthorizedKey(ctx, in.KeyID, RefAliasOK, "kms:DescribeKey", RequestAliasCond(in.KeyID), in.GrantTokens)
	if err != nil {
		return nil, err
	}
	return &wire.KeyMetadataOutput{KeyMetadata: s.metadata(lk)}, nil
}

// RequestAliasCond returns the kms:RequestAlias condition of a request
// whose key reference ref is an alias name or alias ARN, or nil.
func RequestAliasCond(ref *string) map[string][]string {
	if ref == nil {
		return nil
	}
	r := *ref
	if strings.HasPrefix(r, "arn:") {
		r = arn.Field(r, 5)
	}
	if strings.HasPrefix(r, "alias/") {
		return map[string][]string{"kms:requestalias": {r}}
	}
	return nil
}

// PageLimit validates Limit and returns it or the default.
func PageLimit(v *Validator, limit *int64, max, def int64) int {
	v.IntRange(limit, "limit", 1, max)
	if limit == nil {
		return int(def)
	}
	return int(*limit)
}

// ListKeys implements the ListKeys operation.
func (s *Service) ListKeys(ctx context.Context, in *wire.ListInput) (*wire.ListKeysOutput, error) {
	var v Validator
	limit := PageLimit(&v, in.Limit, 1000, 100)
	v.StrLen(in.Marker, "marker", 1, 1024)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.AuthorizeAccount(ctx, "kms:ListKeys", nil); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	prefix := caller.Account + "/"
	after := ""
	if in.Marker != nil {
		if !ValidKeyID(*in.Marker) {
			return nil, awserr.New(awserr.InvalidMarker, "Invalid marker")
		}
		after = prefix + *in.Marker
	}
	recs, err := s.store.List(ctx, kindAccountKey, prefix, after, limit+1)
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	out := &wire.ListKeysOutput{Keys: []wire.KeyListEntry{}}
	for i, r := range recs {
		if i == limit {
			out.Truncated = true
			out.NextMarker = out.Keys[len(out.Keys)-1].KeyID
			break
		}
		id := strings.TrimPrefix(r.ID, prefix)
		out.Keys = append(out.Keys, wire.KeyListEntry{KeyID: id, KeyArn: s.KeyARN(caller.Account, id)})
	}
	return out, nil
}

// ManageKey resolves a key for a management operation (key ID or ARN only),
// authorizes action and applies fn to it atomically.
func (s *Service) ManageKey(ctx context.Context, ref *string, action string, fn func(d *KeyDoc, arn string) ([]store.Op, error)) (*Key, error) {
	lk, err := s.AuthorizedKey(ctx, ref, RefKeyOnly, action, nil, nil)
	if err != nil {
		return nil, err
	}
	out, err := s.UpdateKey(ctx, lk.doc.ID, func(d *KeyDoc, _ int64) ([]store.Op, error) { return fn(d, lk.arn) })
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.NotFoundKey(lk.doc.Account, lk.doc.ID)
	}
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	return out, nil
}

// EnableKey implements the EnableKey operation.
func (s *Service) EnableKey(ctx context.Context, in *wire.KeyIDInput) (*struct{}, error) {
	return s.setKeyState(ctx, in.KeyID, "kms:EnableKey", StateEnabled)
}

// DisableKey implements the DisableKey operation.
func (s *Service) DisableKey(ctx context.Context, in *wire.KeyIDInput) (*struct{}, error) {
	return s.setKeyState(ctx, in.KeyID, "kms:DisableKey", StateDisabled)
}

// setKeyState moves a key between Enabled and Disabled. Keys pending
// deletion or import, or unavailable, keep their state, as in AWS.
func (s *Service) setKeyState(ctx context.Context, ref *string, action, state string) (*struct{}, error) {
	_, err := s.ManageKey(ctx, ref, action, func(d *KeyDoc, arn string) ([]store.Op, error) {
		switch d.State {
		case StatePendingDeletion, StatePendingReplicaDeletion, StatePendingImport, StateUnavailable:
			return nil, RequireUsable(&Key{doc: d, arn: arn})
		case StateUpdating:
			return nil, RefuseUpdating(d, arn)
		}
		d.State = state
		return nil, nil
	})
	return &struct{}{}, err
}

// ScheduleKeyDeletion implements the ScheduleKeyDeletion operation.
func (s *Service) ScheduleKeyDeletion(ctx context.Context, in *wire.ScheduleKeyDeletionInput) (*wire.ScheduleKeyDeletionOutput, error) {
	var v Validator
	v.IntRange(in.PendingWindowInDays, "pendingWindowInDays", 7, 30)
	if err := v.Err(); err != nil {
		return nil, err
	}
	days := int64(30)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	var due time.Time
	state := StatePendingDeletion
	lk, err := s.ManageKey(ctx, in.KeyID, "kms:ScheduleKeyDeletion", func(d *KeyDoc, arn string) ([]store.Op, error) {
		if d.State == StatePendingDeletion || d.State == StatePendingReplicaDeletion {
			return nil, awserr.Newf(awserr.KMSInvalidState, "%s is pending deletion.", arn)
		}
		if err := RefuseUpdating(d, arn); err != nil {
			return nil, err
		}
		if d.State == StateCreating {
			return nil, RequireUsable(&Key{doc: d, arn: arn})
		}
		if d.MultiRegion && !IsReplica(d) && len(d.ReplicaRegions) > 0 {
			// The waiting period begins when the last replica is gone
			// (package replica: StartDeletion).
			state = StatePendingReplicaDeletion
			d.State = state
			d.PendingWindowDays = int(days)
			return nil, nil
		}
		due = s.now().UTC().Add(time.Duration(days) * 24 * time.Hour)
		d.State = StatePendingDeletion
		d.DeletionDate = due
		d.PendingWindowDays = int(days)
		return []store.Op{Job{Action: jobDelete, KeyID: d.ID, Due: due}.Op()}, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.ScheduleKeyDeletionOutput{KeyID: lk.arn, DeletionDate: wire.TS(due), KeyState: state, PendingWindowInDays: days}, nil
}

// CancelKeyDeletion implements the CancelKeyDeletion operation. As in AWS,
// the key returns to Disabled (PendingImport if it has no material).
func (s *Service) CancelKeyDeletion(ctx context.Context, in *wire.KeyIDInput) (*wire.KeyIDOutput, error) {
	lk, err := s.ManageKey(ctx, in.KeyID, "kms:CancelKeyDeletion", func(d *KeyDoc, arn string) ([]store.Op, error) {
		if d.State != StatePendingDeletion && d.State != StatePendingReplicaDeletion {
			return nil, awserr.Newf(awserr.KMSInvalidState, "%s is not pending deletion.", arn)
		}
		job := jobID(d.DeletionDate, jobDelete, d.ID)
		d.State = StateDisabled
		if d.Origin == "EXTERNAL" && !hasUsableMaterial(d) {
			d.State = StatePendingImport
		}
		d.DeletionDate = time.Time{}
		d.PendingWindowDays = 0
		return []store.Op{{Kind: KindJob, ID: job, Delete: true}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.KeyIDOutput{KeyID: lk.arn}, nil
}

func hasUsableMaterial(d *KeyDoc) bool {
	for _, m := range d.Materials {
		if m.Sealed != nil && m.State == MaterialCurrent {
			return true
		}
	}
	return false
}

// UpdateKeyDescription implements the UpdateKeyDescription operation.
func (s *Service) UpdateKeyDescription(ctx context.Context, in *wire.UpdateKeyDescriptionInput) (*struct{}, error) {
	var v Validator
	if v.Required(in.Description != nil, "description") {
		v.StrLen(in.Description, "description", 0, 8192)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	_, err := s.ManageKey(ctx, in.KeyID, "kms:UpdateKeyDescription", func(d *KeyDoc, arn string) ([]store.Op, error) {
		if err := RequireNotPendingDeletion(d, arn); err != nil {
			return nil, err
		}
		d.Description = *in.Description
		return nil, nil
	})
	return &struct{}{}, err
}

// GetKeyPolicy implements the GetKeyPolicy operation.
func (s *Service) GetKeyPolicy(ctx context.Context, in *wire.KeyPolicyInput) (*wire.GetKeyPolicyOutput, error) {
	if err := checkPolicyName(in.PolicyName, false); err != nil {
		return nil, err
	}
	lk, err := s.OwnedKey(ctx, in.KeyID, "keyId", "kms:GetKeyPolicy", nil)
	if err != nil {
		return nil, err
	}
	doc, err := s.policyView(ctx, lk.doc)
	if err != nil {
		return nil, err
	}
	return &wire.GetKeyPolicyOutput{Policy: doc, PolicyName: "default"}, nil
}

func checkPolicyName(name *string, required bool) error {
	if name == nil {
		if required {
			return awserr.ValidationError(awserr.NullViolation("policyName"))
		}
		return nil
	}
	if *name != "default" {
		var v Validator
		v.StrLen(name, "policyName", 1, 128)
		if err := v.Err(); err != nil {
			return err
		}
		return awserr.New(awserr.NotFound, "No such policy exists")
	}
	return nil
}

// PutKeyPolicy implements the PutKeyPolicy operation.
func (s *Service) PutKeyPolicy(ctx context.Context, in *wire.KeyPolicyInput) (*struct{}, error) {
	var v Validator
	if v.Required(in.Policy != nil, "policy") {
		v.StrLen(in.Policy, "policy", 1, 131072)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName, false); err != nil {
		return nil, err
	}
	bypass := in.BypassPolicyLockoutSafetyCheck != nil && *in.BypassPolicyLockoutSafetyCheck
	conds := map[string][]string{"kms:bypasspolicylockoutsafetycheck": {fmt.Sprint(bypass)}}
	lk, err := s.OwnedKey(ctx, in.KeyID, "keyId", "kms:PutKeyPolicy", conds)
	if err != nil {
		return nil, err
	}
	ids, err := s.checkPolicy(ctx, *in.Policy, lk.arn, bypass)
	if err != nil {
		return nil, err
	}
	_, err = s.UpdateKey(ctx, lk.doc.ID, func(d *KeyDoc, _ int64) ([]store.Op, error) {
		d.Policy, d.PolicyPrincipals = *in.Policy, ids
		return nil, nil
	})
	return &struct{}{}, s.StoreErr(ctx, err)
}

// ListKeyPolicies implements the ListKeyPolicies operation.
func (s *Service) ListKeyPolicies(ctx context.Context, in *wire.ListKeyPoliciesInput) (*wire.ListKeyPoliciesOutput, error) {
	var v Validator
	PageLimit(&v, in.Limit, 1000, 100)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, err := s.OwnedKey(ctx, in.KeyID, "keyId", "kms:ListKeyPolicies", nil); err != nil {
		return nil, err
	}
	return &wire.ListKeyPoliciesOutput{PolicyNames: []string{"default"}}, nil
}

// deleteKeyOps returns the operations that destroy a key for good: the key
// record (with all its materials), its index entry, its aliases and the
// records the concerns keep about it (KeyRecords: grants, usage).
func (s *Service) deleteKeyOps(ctx context.Context, d *KeyDoc, version int64) ([]store.Op, error) {
	ops := []store.Op{
		{Kind: kindKey, ID: d.ID, Delete: true, IfVersion: version},
		{Kind: kindAccountKey, ID: d.Account + "/" + d.ID, Delete: true},
	}
	// The key's alias list, conditioned on its version, so that an alias
	// that joins or leaves the key meanwhile makes this batch conflict.
	names, setOp, err := s.readKeyAliases(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	if !setOp.Create {
		ops = append(ops, store.Op{Kind: kindKeyAliases, ID: d.ID, Delete: true, IfVersion: setOp.IfVersion})
	}
	for _, name := range names {
		ops = append(ops, store.Op{Kind: kindAlias, ID: aliasRecordID(d.Account, name), Delete: true})
	}
	count, err := s.keyCountDeletionOp(ctx, d.Account)
	if err != nil {
		return nil, err
	}
	ops = append(ops, count...)
	for _, r := range s.keyRecords {
		more, err := r.KeyDeletionOps(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

// CustomKeyStoreKeys returns the IDs of the keys of account in custom key
// store storeID. It reads every key of the account: custom key stores are
// managed rarely, and a key's store is recorded only in the key. Errors are
// as a client sees them.
func (s *Service) CustomKeyStoreKeys(ctx context.Context, account, storeID string) ([]string, error) {
	var ids []string
	err := store.EachIn(ctx, s.store, kindAccountKey, account+"/", func(r store.Record) error {
		id := strings.TrimPrefix(r.ID, account+"/")
		rec, err := s.store.Get(ctx, kindKey, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var k struct {
			CustomKeyStoreID string `json:"customKeyStoreId"`
		}
		if json.Unmarshal(rec.Data, &k) == nil && k.CustomKeyStoreID == storeID {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	return ids, nil
}
