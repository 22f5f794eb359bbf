package keysfile

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/keyimport"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/wire"
)

// Identity names the keys file as the principal of its changes in the
// audit trail (userIdentity.invokedBy, sourceIPAddress, userAgent).
const Identity = "keys-file.trent"

// Change is one change the file made, as the KMS API operation Op with its
// input and output, for the audit trail. Input never holds key material
// (ImportKeyMaterial's input carries only the wrapped material, as a blob,
// which the trail drops).
type Change struct {
	Op      string
	Account string
	KeyARN  string
	Input   any
	Output  any
}

// Config is what Apply works with.
type Config struct {
	Service *kms.Service
	Imports *keyimport.Service
	// Authorizer is the service's authorizer: Apply puts its own in front
	// of it while it runs, and puts it back.
	Authorizer kms.Authorizer
	// Record receives every change; an error stops Apply.
	Record func(ctx context.Context, c Change) error
	Logger *slog.Logger
}

// Apply brings the keys of f into being as declared (see the package
// documentation) and returns how many changes it made. It must run before
// the node serves: it swaps the service's authorizer while it runs.
func Apply(ctx context.Context, cfg Config, f *File) (int, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &applier{cfg: cfg, svc: cfg.Service, callers: map[*kms.Caller]bool{}}
	cfg.Service.SetAuthorizer(&authorizer{inner: cfg.Authorizer, callers: a.callers})
	defer cfg.Service.SetAuthorizer(cfg.Authorizer)
	for i := range f.Keys {
		if err := a.key(ctx, &f.Keys[i]); err != nil {
			return a.changes, fmt.Errorf("keys file: key %s: %w", f.Keys[i].ID, err)
		}
	}
	return a.changes, nil
}

type applier struct {
	cfg     Config
	svc     *kms.Service
	callers map[*kms.Caller]bool
	changes int
}

// caller is the file acting in account.
func (a *applier) caller(account string) *kms.Caller {
	c := &kms.Caller{Account: account, ARN: "arn:" + a.svc.Partition() + ":iam::" + account + ":root", Type: string(policy.TypeRoot),
		PrincipalID: Identity, SourceIP: Identity, UserAgent: Identity, Region: a.svc.Region()}
	a.callers[c] = true
	return c
}

// record reports a change made.
func (a *applier) record(ctx context.Context, k *Key, op string, in, out any) error {
	a.changes++
	a.cfg.Logger.Info("keys file: applied", "key", k.ID, "account", k.Account, "operation", op)
	if a.cfg.Record == nil {
		return nil
	}
	return a.cfg.Record(ctx, Change{Op: op, Account: k.Account, KeyARN: a.svc.KeyARN(k.Account, k.ID), Input: in, Output: out})
}

func (a *applier) key(ctx context.Context, k *Key) error {
	ctx = kms.WithCaller(ctx, a.caller(k.Account))
	pol, err := k.policy()
	if err != nil {
		return err
	}
	lk, err := a.svc.GetKey(ctx, k.ID)
	if err != nil {
		return err
	}
	if lk == nil {
		if lk, err = a.create(ctx, k, pol); err != nil {
			return err
		}
	}
	d := lk.Doc()
	for _, c := range []struct{ what, have, want string }{
		{"account", d.Account, k.Account}, {"key spec", d.Spec, k.KeySpec}, {"key usage", d.Usage, k.KeyUsage},
		{"origin", d.Origin, k.Origin}, {"multi-Region", fmt.Sprint(d.MultiRegion), fmt.Sprint(k.MultiRegion)},
	} {
		if c.have != c.want {
			return fmt.Errorf("the key exists with %s %s, and the file declares %s: a key's %s cannot change (declare another key ID, or delete this key first)",
				c.what, c.have, c.want, c.what)
		}
	}
	if d.State == kms.StatePendingDeletion {
		a.cfg.Logger.Warn("keys file: key pending deletion left as it is", "key", k.ID, "deletionDate", d.DeletionDate)
		return nil
	}
	if k.MaterialFile != "" {
		if err := a.material(ctx, k, d); err != nil {
			return err
		}
		if lk, err = a.svc.GetKey(ctx, k.ID); err != nil || lk == nil {
			return errors.Join(err, errors.New("the key disappeared"))
		}
		d = lk.Doc()
	}
	id := &k.ID
	if k.Description != nil && *k.Description != d.Description {
		in := &wire.UpdateKeyDescriptionInput{KeyID: id, Description: k.Description}
		if err := a.do(ctx, k, "UpdateKeyDescription", in, a.svc.UpdateKeyDescription); err != nil {
			return err
		}
	}
	if pol != "" && pol != d.Policy {
		in := &wire.KeyPolicyInput{KeyID: id, PolicyName: ptr("default"), Policy: &pol, BypassPolicyLockoutSafetyCheck: ptr(true)}
		if err := a.do(ctx, k, "PutKeyPolicy", in, a.svc.PutKeyPolicy); err != nil {
			return err
		}
	}
	if err := a.tags(ctx, k, d); err != nil {
		return err
	}
	if err := a.aliases(ctx, k); err != nil {
		return err
	}
	if r := k.Rotation; r != nil && (r.Enabled != d.RotationEnabled || (r.Enabled && int(r.PeriodDays) != d.RotationPeriodDays)) {
		if r.Enabled {
			in := &wire.EnableKeyRotationInput{KeyID: id, RotationPeriodInDays: &r.PeriodDays}
			err = a.do(ctx, k, "EnableKeyRotation", in, a.svc.EnableKeyRotation)
		} else {
			err = a.do(ctx, k, "DisableKeyRotation", &wire.KeyIDInput{KeyID: id}, a.svc.DisableKeyRotation)
		}
		if err != nil {
			return err
		}
	}
	if e := k.Enabled; e != nil {
		switch {
		case *e && d.State == kms.StateDisabled:
			err = a.do(ctx, k, "EnableKey", &wire.KeyIDInput{KeyID: id}, a.svc.EnableKey)
		case !*e && d.State == kms.StateEnabled:
			err = a.do(ctx, k, "DisableKey", &wire.KeyIDInput{KeyID: id}, a.svc.DisableKey)
		}
	}
	return err
}

// do runs one operation and records it.
func do[I, O any](ctx context.Context, a *applier, k *Key, op string, in *I, fn func(context.Context, *I) (*O, error)) error {
	out, err := fn(ctx, in)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return a.record(ctx, k, op, in, out)
}

func (a *applier) do(ctx context.Context, k *Key, op string, in any, fn any) error {
	switch f := fn.(type) {
	case func(context.Context, *wire.UpdateKeyDescriptionInput) (*struct{}, error):
		return do(ctx, a, k, op, in.(*wire.UpdateKeyDescriptionInput), f)
	case func(context.Context, *wire.KeyPolicyInput) (*struct{}, error):
		return do(ctx, a, k, op, in.(*wire.KeyPolicyInput), f)
	case func(context.Context, *wire.EnableKeyRotationInput) (*struct{}, error):
		return do(ctx, a, k, op, in.(*wire.EnableKeyRotationInput), f)
	case func(context.Context, *wire.KeyIDInput) (*struct{}, error):
		return do(ctx, a, k, op, in.(*wire.KeyIDInput), f)
	case func(context.Context, *wire.TagResourceInput) (*struct{}, error):
		return do(ctx, a, k, op, in.(*wire.TagResourceInput), f)
	case func(context.Context, *wire.UntagResourceInput) (*struct{}, error):
		return do(ctx, a, k, op, in.(*wire.UntagResourceInput), f)
	case func(context.Context, *wire.AliasInput) (*struct{}, error):
		return do(ctx, a, k, op, in.(*wire.AliasInput), f)
	}
	panic("keysfile: unknown operation " + op)
}

// create creates the key with its declared ID, description, policy and
// tags. If another node created it meanwhile, the existing key is returned.
func (a *applier) create(ctx context.Context, k *Key, pol string) (*kms.Key, error) {
	in := &wire.CreateKeyInput{KeySpec: &k.KeySpec, KeyUsage: &k.KeyUsage, Origin: &k.Origin, Description: k.Description,
		BypassPolicyLockoutSafetyCheck: ptr(true)}
	if k.MultiRegion {
		in.MultiRegion = ptr(true)
	}
	if pol != "" {
		in.Policy = &pol
	}
	in.Tags = wireTags(k.Tags, slices.Sorted(maps.Keys(k.Tags)))
	out, err := a.svc.CreateKey(kms.WithKeyID(ctx, k.ID), in)
	if err != nil {
		// Another node applying the same file, or an earlier start,
		// created it first.
		if lk, gerr := a.svc.GetKey(ctx, k.ID); gerr == nil && lk != nil {
			return lk, nil
		}
		return nil, fmt.Errorf("CreateKey: %w", err)
	}
	if err := a.record(ctx, k, "CreateKey", in, out); err != nil {
		return nil, err
	}
	lk, err := a.svc.GetKey(ctx, k.ID)
	if err == nil && lk == nil {
		err = errors.New("the key created is gone")
	}
	return lk, err
}

func wireTags(tags map[string]string, keys []string) []wire.Tag {
	var out []wire.Tag
	for _, key := range keys {
		out = append(out, wire.Tag{TagKey: ptr(key), TagValue: ptr(tags[key])})
	}
	return out
}

// tags makes the key's tags the declared ones, if declared.
func (a *applier) tags(ctx context.Context, k *Key, d *kms.KeyDoc) error {
	if k.Tags == nil {
		return nil
	}
	cur := map[string]string{}
	for _, t := range d.Tags {
		cur[t.Key] = t.Value
	}
	var gone, set []string
	for key := range cur {
		if _, ok := k.Tags[key]; !ok {
			gone = append(gone, key)
		}
	}
	for key, v := range k.Tags {
		if old, ok := cur[key]; !ok || old != v {
			set = append(set, key)
		}
	}
	slices.Sort(gone)
	slices.Sort(set)
	if len(gone) > 0 {
		if err := a.do(ctx, k, "UntagResource", &wire.UntagResourceInput{KeyID: &k.ID, TagKeys: gone}, a.svc.UntagResource); err != nil {
			return err
		}
	}
	if len(set) > 0 {
		if err := a.do(ctx, k, "TagResource", &wire.TagResourceInput{KeyID: &k.ID, Tags: wireTags(k.Tags, set)}, a.svc.TagResource); err != nil {
			return err
		}
	}
	return nil
}

// aliases makes the key's aliases the declared ones, if declared: missing
// ones are created, or moved from the key they name.
func (a *applier) aliases(ctx context.Context, k *Key) error {
	if k.Aliases == nil {
		return nil
	}
	cur := map[string]bool{}
	var marker *string
	for {
		out, err := a.svc.ListAliases(ctx, &wire.ListAliasesInput{KeyID: &k.ID, Marker: marker})
		if err != nil {
			return fmt.Errorf("ListAliases: %w", err)
		}
		for _, e := range out.Aliases {
			cur[e.AliasName] = true
		}
		if !out.Truncated {
			break
		}
		marker = &out.NextMarker
	}
	for _, name := range k.Aliases {
		if cur[name] {
			continue
		}
		in := &wire.AliasInput{AliasName: ptr(name), TargetKeyID: &k.ID}
		_, err := a.svc.DescribeKey(ctx, &wire.KeyIDInput{KeyID: ptr(name)})
		switch e := awserr.As(err); {
		case err == nil:
			err = a.do(ctx, k, "UpdateAlias", in, a.svc.UpdateAlias)
		case e != nil && e.Code == awserr.NotFound:
			err = a.do(ctx, k, "CreateAlias", in, a.svc.CreateAlias)
		}
		if err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		if !slices.Contains(k.Aliases, name) {
			if err := a.do(ctx, k, "DeleteAlias", &wire.AliasInput{AliasName: ptr(name)}, a.svc.DeleteAlias); err != nil {
				return err
			}
		}
	}
	return nil
}

// material imports the declared material into an EXTERNAL key that lacks
// it, or whose expiry differs, and refuses other material than the key's.
// The material goes through the operations of the API: wrapped with a
// wrapping key of GetParametersForImport, then ImportKeyMaterial.
func (a *applier) material(ctx context.Context, k *Key, d *kms.KeyDoc) error {
	mat, err := k.material()
	if err != nil {
		return err
	}
	defer clear(mat)
	has, err := keyimport.HasMaterial(d, mat)
	if err != nil {
		return fmt.Errorf("material_file %s: %w", k.MaterialFile, err)
	}
	if len(d.Materials) > 0 && !has {
		return fmt.Errorf("material_file %s holds other key material than the key's: imported material cannot change (declare another key ID, or delete this key first)", k.MaterialFile)
	}
	model, validTo := kms.ExpirationDoesNotExpire, time.Time{}
	if k.ValidTo != nil {
		model, validTo = kms.ExpirationExpires, k.ValidTo.UTC().Truncate(time.Second)
	}
	if d.State != kms.StatePendingImport && d.ExpirationModel == model && d.ValidTo.Equal(validTo) {
		return nil
	}
	params, err := a.cfg.Imports.GetParametersForImport(ctx, &wire.GetParametersForImportInput{KeyID: &k.ID,
		WrappingAlgorithm: ptr("RSAES_OAEP_SHA_256"), WrappingKeySpec: ptr("RSA_2048")})
	if err != nil {
		return fmt.Errorf("GetParametersForImport: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(params.PublicKey)
	if err != nil {
		return fmt.Errorf("wrapping key: %w", err)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return errors.New("wrapping key is not RSA")
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaPub, mat, nil)
	if err != nil {
		return fmt.Errorf("wrapping the material: %w", err)
	}
	in := &wire.ImportKeyMaterialInput{KeyID: &k.ID, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: &model}
	if !validTo.IsZero() {
		in.ValidTo = &wire.Timestamp{Time: validTo}
	}
	out, err := a.cfg.Imports.ImportKeyMaterial(ctx, in)
	if err != nil {
		return fmt.Errorf("ImportKeyMaterial: %w", err)
	}
	return a.record(ctx, k, "ImportKeyMaterial", in, out)
}

func ptr[T any](v T) *T { return &v }
