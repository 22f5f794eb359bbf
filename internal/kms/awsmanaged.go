package kms

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// # AWS managed keys
//
// An AWS managed key (KeyManager AWS) is the key an AWS service uses in an
// account when no customer key is named: alias/aws/s3, alias/aws/ebs, ...
// It comes into existence the first time it is needed. Which names exist,
// their policies and when a request creates one are the managed keys
// concern's (package managed implements ManagedKeys); the core creates the
// key and its alias together (CreateAWSManagedKey) and asks the concern
// when an alias/aws/ name of the caller's own account is not found.

// ManagedKeys is the AWS managed key concern as the core sees it.
type ManagedKeys interface {
	// Resolve is called when alias, an "alias/aws/..." name of the
	// caller's own account, does not exist and a request names it for
	// action. It returns the ID of the key the alias names once the
	// concern has created it (CreateAWSManagedKey), or "" when AWS would
	// not create it for this request (the alias is then not found).
	// Errors are what the client sees.
	Resolve(ctx context.Context, account, alias, action string) (keyID string, err error)
	// Predefined returns the alias names of the AWS managed keys that AWS
	// predefines in every account, sorted: ListAliases lists those that
	// do not exist yet, without a TargetKeyId, as AWS does.
	Predefined() []string
}

// SetManagedKeys makes m the AWS managed key concern. Package managed calls
// it when it is built, before the node serves.
func (s *Service) SetManagedKeys(m ManagedKeys) { s.managed = m }

// ManagerAWS is the KeyManager of AWS managed keys.
const ManagerAWS = "AWS"

// CreateAWSManagedKey makes alias (an "alias/aws/..." name) of account
// name an AWS managed key, creating the key (symmetric, KeyManager AWS,
// with description and key policy doc, rotating every year) and the alias
// in one atomic write conditioned on the alias not existing. It returns the
// ID of the key the alias names: the new key's, or, when the alias exists
// already (another request, on this node or another, created it first), the
// key it names; so an account has one AWS managed key per alias however
// many first uses race. Errors are store failures as a client sees them.
func (s *Service) CreateAWSManagedKey(ctx context.Context, account, alias, description, doc string) (string, error) {
	aid := aliasRecordID(account, alias)
	if rec, err := s.store.Get(ctx, kindAlias, aid); err == nil {
		var a aliasDoc
		if err := json.Unmarshal(rec.Data, &a); err != nil {
			return "", err
		}
		return a.KeyID, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", s.StoreErr(ctx, err)
	}
	now := s.now().UTC()
	d := &KeyDoc{
		ID: newKeyID(false), Account: account, Region: s.region, Created: now, Description: description,
		Spec: SymmetricDefault, Usage: "ENCRYPT_DECRYPT", Origin: "AWS_KMS", State: StateEnabled, Manager: ManagerAWS,
		Policy:          doc,
		RotationEnabled: true, RotationPeriodDays: defaultRotationPeriodDays,
		NextRotation: now.Add(time.Duration(defaultRotationPeriodDays) * day),
	}
	if err := s.NewKeyMaterial(d); err != nil {
		return "", err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	adata, err := json.Marshal(aliasDoc{Account: account, Name: alias, KeyID: d.ID, Created: now, Updated: now})
	if err != nil {
		return "", err
	}
	names, err := json.Marshal(keyAliasesDoc{Names: []string{alias}})
	if err != nil {
		return "", err
	}
	epoch := s.aliases.Epoch()
	err = s.store.Apply(ctx,
		store.Op{Kind: kindKey, ID: d.ID, Data: data, Create: true},
		store.Op{Kind: kindAccountKey, ID: d.Account + "/" + d.ID, Data: awsManagedIndexEntry, Create: true},
		store.Op{Kind: kindAlias, ID: aid, Data: adata, Create: true},
		store.Op{Kind: kindKeyAliases, ID: d.ID, Data: names, Create: true},
		rotationJobOp(d))
	if errors.Is(err, store.ErrExists) {
		// The alias was created meanwhile: it names the one key.
		var a aliasDoc
		rec, gerr := s.store.Get(ctx, kindAlias, aid)
		if gerr != nil {
			return "", s.StoreErr(ctx, gerr)
		}
		if err := json.Unmarshal(rec.Data, &a); err != nil {
			return "", err
		}
		return a.KeyID, nil
	}
	if err != nil {
		return "", s.StoreErr(ctx, err)
	}
	s.aliases.PutAt(aid, d.ID, 1, epoch)
	return d.ID, nil
}

// resolveManaged is ResolveKey's answer for an alias of the caller's own
// account that does not exist: the key an AWS managed alias names once the
// concern created it, or "" if the name is not one it creates for action.
func (s *Service) resolveManaged(ctx context.Context, account, alias, action string) (string, error) {
	if s.managed == nil || !reservedAlias(alias) {
		return "", nil
	}
	return s.managed.Resolve(ctx, account, alias, action)
}

// withPredefined adds to list, the account's stored aliases after the
// marker, the predefined AWS managed alias names that have no alias yet
// and sort after the marker, without a TargetKeyId or dates, as AWS lists
// them; the result is sorted by name.
func (s *Service) withPredefined(list []wire.AliasListEntry, predefined []string, account string, marker *string) []wire.AliasListEntry {
	have := make(map[string]bool, len(list))
	for _, a := range list {
		have[a.AliasName] = true
	}
	for _, name := range predefined {
		if have[name] || (marker != nil && name <= *marker) {
			continue
		}
		list = append(list, wire.AliasListEntry{AliasName: name, AliasArn: s.aliasARN(account, name)})
	}
	slices.SortFunc(list, func(a, b wire.AliasListEntry) int { return strings.Compare(a.AliasName, b.AliasName) })
	return list
}
