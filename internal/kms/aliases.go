package kms

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"strings"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
)

const maxAliasesPerKey = 50

var aliasPattern = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)

// validateAliasName checks an AliasName member the way AWS does.
func validateAliasName(name *string) error {
	var v validator
	if !v.required(name != nil, "aliasName") {
		return v.err()
	}
	v.strLen(name, "aliasName", 1, 256)
	if len(*name) > 0 && !aliasPattern.MatchString(*name) {
		v.add(*name, true, "aliasName", awserr.Pattern("^[a-zA-Z0-9:/_-]+$"))
	}
	if err := v.err(); err != nil {
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
func (s *Service) aliasTarget(ctx context.Context, ref *string, action string) (*loadedKey, error) {
	lk, err := s.resolveKey(ctx, ref, refKeyOnly, "targetKeyId", action)
	if err != nil {
		return nil, err
	}
	if err := requireSameAccount(ctx, lk, s); err != nil {
		return nil, err
	}
	if err := s.authorizeKey(ctx, lk, action, nil, nil); err != nil {
		return nil, err
	}
	if lk.doc.State == StatePendingDeletion {
		return nil, awserr.Newf(awserr.KMSInvalidState, "%s is pending deletion.", lk.arn)
	}
	return lk, nil
}

// CreateAlias implements the CreateAlias operation.
func (s *Service) CreateAlias(ctx context.Context, in *AliasInput) (*struct{}, error) {
	if err := validateAliasName(in.AliasName); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	if reservedAlias(*in.AliasName) {
		return nil, awserr.New(awserr.InvalidAliasName, "Alias names that begin with alias/aws/ are reserved for AWS managed keys.")
	}
	if err := s.authorizeAccount(ctx, "kms:CreateAlias", map[string][]string{"kms:requestalias": {*in.AliasName}}); err != nil {
		return nil, err
	}
	lk, err := s.aliasTarget(ctx, in.TargetKeyID, "kms:CreateAlias")
	if err != nil {
		return nil, err
	}
	if n := len(s.aliasNamesOf(ctx, caller.Account, lk.doc.ID)); n >= maxAliasesPerKey {
		return nil, awserr.Newf(awserr.LimitExceeded, "Too many aliases for key %s: the limit is %d.", lk.arn, maxAliasesPerKey)
	}
	now := s.now().UTC()
	data, _ := json.Marshal(aliasDoc{Account: caller.Account, Name: *in.AliasName, KeyID: lk.doc.ID, Created: now, Updated: now})
	id := aliasRecordID(caller.Account, *in.AliasName)
	err = s.store.Apply(ctx, store.Op{Kind: kindAlias, ID: id, Data: data, Create: true})
	if errors.Is(err, store.ErrExists) {
		return nil, awserr.Newf(awserr.AlreadyExists, "An alias with the name %s already exists", s.aliasARN(caller.Account, *in.AliasName))
	}
	if err != nil {
		return nil, s.storeErr(ctx, err)
	}
	s.aliases.Put(id, lk.doc.ID, 1)
	return &struct{}{}, nil
}

// UpdateAlias implements the UpdateAlias operation.
func (s *Service) UpdateAlias(ctx context.Context, in *AliasInput) (*struct{}, error) {
	if err := validateAliasName(in.AliasName); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	if reservedAlias(*in.AliasName) {
		return nil, awserr.New(awserr.InvalidAliasName, "Alias names that begin with alias/aws/ are reserved for AWS managed keys.")
	}
	id := aliasRecordID(caller.Account, *in.AliasName)
	rec, err := s.store.Get(ctx, kindAlias, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, awserr.Newf(awserr.NotFound, "Alias %s is not found.", s.aliasARN(caller.Account, *in.AliasName))
	}
	if err != nil {
		return nil, s.storeErr(ctx, err)
	}
	var a aliasDoc
	if err := json.Unmarshal(rec.Data, &a); err != nil {
		return nil, err
	}
	if err := s.authorizeAccount(ctx, "kms:UpdateAlias", nil); err != nil {
		return nil, err
	}
	lk, err := s.aliasTarget(ctx, in.TargetKeyID, "kms:UpdateAlias")
	if err != nil {
		return nil, err
	}
	if old, err := s.getKey(ctx, a.KeyID); err == nil && old != nil {
		if err := s.authorizeKey(ctx, old, "kms:UpdateAlias", nil, nil); err != nil {
			return nil, err
		}
		if old.doc.Spec != lk.doc.Spec || old.doc.Usage != lk.doc.Usage {
			return nil, awserr.Newf(awserr.Validation, "Alias %s cannot be changed from a key of type %s/%s to a key of type %s/%s.",
				*in.AliasName, old.doc.Spec, old.doc.Usage, lk.doc.Spec, lk.doc.Usage)
		}
	}
	a.KeyID = lk.doc.ID
	a.Updated = s.now().UTC()
	data, _ := json.Marshal(a)
	if err := s.store.Apply(ctx, store.Op{Kind: kindAlias, ID: id, Data: data, IfVersion: rec.Version}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, awserr.New(awserr.Conflict, "The alias was changed concurrently. Retry the request.")
		}
		return nil, s.storeErr(ctx, err)
	}
	s.aliases.Put(id, lk.doc.ID, rec.Version+1)
	return &struct{}{}, nil
}

// DeleteAlias implements the DeleteAlias operation.
func (s *Service) DeleteAlias(ctx context.Context, in *AliasInput) (*struct{}, error) {
	if err := validateAliasName(in.AliasName); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	id := aliasRecordID(caller.Account, *in.AliasName)
	rec, err := s.store.Get(ctx, kindAlias, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, awserr.Newf(awserr.NotFound, "Alias %s is not found.", s.aliasARN(caller.Account, *in.AliasName))
	}
	if err != nil {
		return nil, s.storeErr(ctx, err)
	}
	var a aliasDoc
	_ = json.Unmarshal(rec.Data, &a)
	if err := s.authorizeAccount(ctx, "kms:DeleteAlias", nil); err != nil {
		return nil, err
	}
	if lk, err := s.getKey(ctx, a.KeyID); err == nil && lk != nil {
		noteKey(ctx, lk.arn)
		if err := s.authorizeKey(ctx, lk, "kms:DeleteAlias", nil, nil); err != nil {
			return nil, err
		}
	}
	if err := s.store.Apply(ctx, store.Op{Kind: kindAlias, ID: id, Delete: true}); err != nil {
		return nil, s.storeErr(ctx, err)
	}
	s.aliases.Invalidate(id)
	return &struct{}{}, nil
}

// ListAliases implements the ListAliases operation.
func (s *Service) ListAliases(ctx context.Context, in *ListAliasesInput) (*ListAliasesOutput, error) {
	var v validator
	limit := pageLimit(&v, in.Limit, 100, 50)
	v.strLen(in.Marker, "marker", 1, 1024)
	if err := v.err(); err != nil {
		return nil, err
	}
	caller := CallerFrom(ctx)
	filter := ""
	if in.KeyID != nil {
		lk, err := s.resolveKey(ctx, in.KeyID, refKeyOnly, "keyId", "kms:ListAliases")
		if err != nil {
			return nil, err
		}
		if err := requireSameAccount(ctx, lk, s); err != nil {
			return nil, err
		}
		filter = lk.doc.ID
	}
	if err := s.authorizeAccount(ctx, "kms:ListAliases", nil); err != nil {
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
		return nil, s.storeErr(ctx, err)
	}
	out := &ListAliasesOutput{Aliases: []AliasListEntry{}}
	for _, r := range recs {
		var a aliasDoc
		if json.Unmarshal(r.Data, &a) != nil || (filter != "" && a.KeyID != filter) {
			continue
		}
		if len(out.Aliases) == limit {
			out.Truncated = true
			out.NextMarker = out.Aliases[len(out.Aliases)-1].AliasName
			break
		}
		out.Aliases = append(out.Aliases, AliasListEntry{
			AliasName: a.Name, AliasArn: s.aliasARN(a.Account, a.Name), TargetKeyID: a.KeyID,
			CreationDate: TS(a.Created), LastUpdatedDate: TS(a.Updated),
		})
	}
	sort.SliceStable(out.Aliases, func(i, j int) bool { return out.Aliases[i].AliasName < out.Aliases[j].AliasName })
	return out, nil
}
