package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

var aliasPattern = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)

// validateAliasName checks an AliasName member the way AWS does.
func validateAliasName(name *string) error {
	var v Validator
	if !v.Required(name != nil, "aliasName") {
		return v.Err()
	}
	v.StrLen(name, "aliasName", 1, 256)
	if len(*name) > 0 && !aliasPattern.MatchString(*name) {
		v.Add(*name, true, "aliasName", awserr.Pattern("^[a-zA-Z0-9:/_-]+$"))
	}
	if err := v.Err(); err != nil {
		return err
	}
	if !strings.HasPrefix(*name, "alias/") {
		return awserr.New(awserr.Validation, `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	if *name == "alias/" {
		return awserr.New(awserr.InvalidAliasName, "Alias name must not be empty after the prefix alias/.")
	}
	return nil
}

func reservedAlias(name string) bool { return strings.HasPrefix(strings.ToLower(name), "alias/aws/") }

// aliasTarget resolves the TargetKeyId of CreateAlias/UpdateAlias: a key ID
// or key ARN of the caller's own account.
func (s *Service) aliasTarget(ctx context.Context, ref *string, action string) (*Key, error) {
	lk, err := s.OwnedKey(ctx, ref, "targetKeyId", action, nil)
	if err != nil {
		return nil, err
	}
	if lk.doc.State == StatePendingDeletion || lk.doc.State == StatePendingReplicaDeletion {
		return nil, awserr.Newf(awserr.KMSInvalidState, "%s is pending deletion.", lk.arn)
	}
	return lk, nil
}

// CreateAlias implements the CreateAlias operation. The alias and the
// alias list of its key are written in one Apply conditioned on that list,
// so the quota of aliases per key holds under any concurrency.
func (s *Service) CreateAlias(ctx context.Context, in *wire.AliasInput) (*struct{}, error) {
	if err := validateAliasName(in.AliasName); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	if reservedAlias(*in.AliasName) {
		return nil, awserr.New(awserr.InvalidAliasName, "Alias names that begin with alias/aws/ are reserved for AWS managed keys.")
	}
	if err := s.authorizeAlias(ctx, "kms:CreateAlias", *in.AliasName, map[string][]string{"kms:requestalias": {*in.AliasName}}); err != nil {
		return nil, err
	}
	lk, err := s.aliasTarget(ctx, in.TargetKeyID, "kms:CreateAlias")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	data, _ := json.Marshal(aliasDoc{Account: caller.Account, Name: *in.AliasName, KeyID: lk.doc.ID, Created: now, Updated: now})
	id := aliasRecordID(caller.Account, *in.AliasName)
	var epoch uint64
	exists := func() error {
		return awserr.Newf(awserr.AlreadyExists, "An alias with the name %s already exists", s.aliasARN(caller.Account, *in.AliasName))
	}
	err = store.Update(ctx, &s.locks, []string{lockAlias(id), lockKeyAliases(lk.doc.ID)}, func() error {
		names, setOp, err := s.readKeyAliases(ctx, lk.doc.ID)
		if err != nil {
			return err
		}
		if limit := s.quotas.Resources(lk.doc.Account).AliasesPerKey; len(names) >= limit {
			return awserr.Newf(awserr.LimitExceeded, "Too many aliases for key %s: the limit is %d.", lk.arn, limit)
		}
		names = withName(names, *in.AliasName)
		setOp = keyAliasesOp(setOp, names)
		epoch = s.aliases.Epoch()
		err = s.store.Apply(ctx, store.Op{Kind: kindAlias, ID: id, Data: data, Create: true}, setOp)
		if errors.Is(err, store.ErrExists) {
			// The alias exists, or another node created the key's
			// alias list since it was read: then read it again.
			if _, gerr := s.store.Get(ctx, kindAlias, id); gerr == nil {
				return exists()
			} else if !errors.Is(gerr, store.ErrNotFound) {
				return gerr
			}
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		if err != nil {
			return err
		}
		s.forgetKeyAliases(setOp)
		return nil
	})
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	s.aliases.PutAt(id, lk.doc.ID, 1, epoch)
	return &struct{}{}, nil
}

// readAlias reads the alias record id, or returns NotFoundException.
func (s *Service) readAlias(ctx context.Context, account, name, id string) (aliasDoc, int64, error) {
	var a aliasDoc
	rec, err := s.store.Get(ctx, kindAlias, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, 0, awserr.Newf(awserr.NotFound, "Alias %s is not found.", s.aliasARN(account, name))
	}
	if err != nil {
		return a, 0, err
	}
	if err := json.Unmarshal(rec.Data, &a); err != nil {
		return a, 0, fmt.Errorf("kms: decode alias %s: %w", id, err)
	}
	return a, rec.Version, nil
}

// UpdateAlias implements the UpdateAlias operation. The alias and the alias
// lists of the key it leaves and the key it joins are written in one Apply.
func (s *Service) UpdateAlias(ctx context.Context, in *wire.AliasInput) (*struct{}, error) {
	if err := validateAliasName(in.AliasName); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	if reservedAlias(*in.AliasName) {
		return nil, awserr.New(awserr.InvalidAliasName, "Alias names that begin with alias/aws/ are reserved for AWS managed keys.")
	}
	id := aliasRecordID(caller.Account, *in.AliasName)
	a, _, err := s.readAlias(ctx, caller.Account, *in.AliasName, id)
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	if err := s.authorizeAlias(ctx, "kms:UpdateAlias", *in.AliasName, nil); err != nil {
		return nil, err
	}
	lk, err := s.aliasTarget(ctx, in.TargetKeyID, "kms:UpdateAlias")
	if err != nil {
		return nil, err
	}
	// checkOld authorizes the caller on the key the alias leaves, which
	// must be of the same type as the new one.
	checkOld := func(keyID string) error {
		old, err := s.GetKey(ctx, keyID)
		if err != nil || old == nil {
			return err
		}
		if err := s.authorizeKey(ctx, old, "kms:UpdateAlias", nil, nil); err != nil {
			return err
		}
		if old.doc.Spec != lk.doc.Spec || old.doc.Usage != lk.doc.Usage {
			return awserr.Newf(awserr.Validation, "Alias %s cannot be changed from a key of type %s/%s to a key of type %s/%s.",
				*in.AliasName, old.doc.Spec, old.doc.Usage, lk.doc.Spec, lk.doc.Usage)
		}
		return nil
	}
	if err := checkOld(a.KeyID); err != nil {
		return nil, err
	}
	checked := a.KeyID
	var version int64
	var epoch uint64
	locks := []string{lockAlias(id), lockKeyAliases(a.KeyID), lockKeyAliases(lk.doc.ID)}
	err = store.Update(ctx, &s.locks, locks, func() error {
		a, ver, err := s.readAlias(ctx, caller.Account, *in.AliasName, id)
		if err != nil {
			return err
		}
		if a.KeyID != checked {
			// Moved by another writer since it was authorized.
			if err := checkOld(a.KeyID); err != nil {
				return err
			}
			checked = a.KeyID
		}
		from := a.KeyID
		a.KeyID = lk.doc.ID
		a.Updated = s.now().UTC()
		data, _ := json.Marshal(a)
		ops := []store.Op{{Kind: kindAlias, ID: id, Data: data, IfVersion: ver}}
		var fromNames, toNames []string
		var fromOp, toOp store.Op
		if from != lk.doc.ID {
			if fromNames, fromOp, err = s.readKeyAliases(ctx, from); err != nil {
				return err
			}
			if toNames, toOp, err = s.readKeyAliases(ctx, lk.doc.ID); err != nil {
				return err
			}
			if limit := s.quotas.Resources(lk.doc.Account).AliasesPerKey; len(toNames) >= limit {
				return awserr.Newf(awserr.LimitExceeded, "Too many aliases for key %s: the limit is %d.", lk.arn, limit)
			}
			fromNames, toNames = withoutName(fromNames, a.Name), withName(toNames, a.Name)
			fromOp, toOp = keyAliasesOp(fromOp, fromNames), keyAliasesOp(toOp, toNames)
			ops = append(ops, fromOp, toOp)
		}
		epoch = s.aliases.Epoch()
		err = s.store.Apply(ctx, ops...)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%w: %w", store.ErrConflict, err) // a key's alias list was created meanwhile
		}
		if err != nil {
			return err
		}
		if from != lk.doc.ID {
			s.forgetKeyAliases(fromOp)
			s.forgetKeyAliases(toOp)
		}
		version = ver + 1
		return nil
	})
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	s.aliases.PutAt(id, lk.doc.ID, version, epoch)
	return &struct{}{}, nil
}

// DeleteAlias implements the DeleteAlias operation.
func (s *Service) DeleteAlias(ctx context.Context, in *wire.AliasInput) (*struct{}, error) {
	if err := validateAliasName(in.AliasName); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	id := aliasRecordID(caller.Account, *in.AliasName)
	a, _, err := s.readAlias(ctx, caller.Account, *in.AliasName, id)
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	if err := s.authorizeAlias(ctx, "kms:DeleteAlias", *in.AliasName, nil); err != nil {
		return nil, err
	}
	checkKey := func(keyID string) error {
		lk, err := s.GetKey(ctx, keyID)
		if err != nil || lk == nil {
			return err
		}
		NoteKey(ctx, lk.arn)
		return s.authorizeKey(ctx, lk, "kms:DeleteAlias", nil, nil)
	}
	if err := checkKey(a.KeyID); err != nil {
		return nil, err
	}
	checked := a.KeyID
	err = store.Update(ctx, &s.locks, []string{lockAlias(id), lockKeyAliases(a.KeyID)}, func() error {
		a, ver, err := s.readAlias(ctx, caller.Account, *in.AliasName, id)
		if err != nil {
			return err
		}
		if a.KeyID != checked {
			if err := checkKey(a.KeyID); err != nil {
				return err
			}
			checked = a.KeyID
		}
		names, setOp, err := s.readKeyAliases(ctx, a.KeyID)
		if err != nil {
			return err
		}
		names = withoutName(names, a.Name)
		setOp = keyAliasesOp(setOp, names)
		err = s.store.Apply(ctx, store.Op{Kind: kindAlias, ID: id, Delete: true, IfVersion: ver}, setOp)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		if err != nil {
			return err
		}
		s.forgetKeyAliases(setOp)
		return nil
	})
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	s.aliases.Invalidate(id)
	return &struct{}{}, nil
}

// ListAliases implements the ListAliases operation.
func (s *Service) ListAliases(ctx context.Context, in *wire.ListAliasesInput) (*wire.ListAliasesOutput, error) {
	var v Validator
	limit := PageLimit(&v, in.Limit, 100, 50)
	v.StrLen(in.Marker, "marker", 1, 1024)
	if err := v.Err(); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	filter := ""
	if in.KeyID != nil {
		lk, err := s.ResolveKey(ctx, in.KeyID, RefKeyOnly, "keyId", "kms:ListAliases")
		if err != nil {
			return nil, err
		}
		if err := requireSameAccount(ctx, lk, s); err != nil {
			return nil, err
		}
		filter = lk.doc.ID
	}
	if err := s.AuthorizeAccount(ctx, "kms:ListAliases", nil); err != nil {
		return nil, err
	}
	prefix := caller.Account + "/"
	after := ""
	if in.Marker != nil {
		if !strings.HasPrefix(*in.Marker, "alias/") {
			return nil, awserr.New(awserr.InvalidMarker, "Invalid marker")
		}
		after = prefix + *in.Marker
	}
	recs, err := s.store.List(ctx, kindAlias, prefix, after, 0)
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	out := &wire.ListAliasesOutput{Aliases: []wire.AliasListEntry{}}
	var predefined []string
	if filter == "" && s.managed != nil {
		predefined = s.managed.Predefined()
	}
	for _, r := range recs {
		var a aliasDoc
		if json.Unmarshal(r.Data, &a) != nil || (filter != "" && a.KeyID != filter) {
			continue
		}
		if len(out.Aliases) == limit+1 && predefined != nil {
			// Merged with the predefined names below, the first limit
			// stored aliases decide the page, and one more says that
			// more follow.
			break
		}
		if len(out.Aliases) == limit && predefined == nil {
			out.Truncated = true
			out.NextMarker = out.Aliases[len(out.Aliases)-1].AliasName
			break
		}
		out.Aliases = append(out.Aliases, wire.AliasListEntry{
			AliasName: a.Name, AliasArn: s.aliasARN(a.Account, a.Name), TargetKeyID: a.KeyID,
			CreationDate: wire.TS(a.Created), LastUpdatedDate: wire.TS(a.Updated),
		})
	}
	if predefined != nil {
		out.Aliases = s.withPredefined(out.Aliases, predefined, caller.Account, in.Marker)
		if len(out.Aliases) > limit {
			out.Aliases = out.Aliases[:limit]
			out.Truncated = true
			out.NextMarker = out.Aliases[limit-1].AliasName
		}
	}
	sort.SliceStable(out.Aliases, func(i, j int) bool { return out.Aliases[i].AliasName < out.Aliases[j].AliasName })
	return out, nil
}
