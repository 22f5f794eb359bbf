package kms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/quota"
	"github.com/trentkms/trent/internal/store"
)

// # Quotas
//
// The resource quotas (keys per account, aliases and grants per key, key
// policy size, custom key stores, on-demand rotations) and the request-rate
// quotas of each account are the quota.Table's (package quota), configured
// per node and set per account by `trent admin quotas`. Resource quotas are
// exact under any concurrency, on one node or many: every count the limit
// applies to is a store record written in the same atomic batch as the
// resource, conditioned on its version (the key count here, the alias list
// of a key, the grant count of a key). Rate quotas are checked when the
// request's key is known: the caller's account, the class of the key's
// spec.

// kindKeyCount records the number of customer managed keys of an account
// (ID = account): {"n": N}. It is created on the account's first CreateKey
// after this version, from the account's key index, and changes with every
// key created by CreateKey and every key deleted.
const kindKeyCount = "keycount"

type keyCountDoc struct {
	N int `json:"n"`
}

// initQuotas installs t (nil: AWS's defaults) and keeps it coherent.
func (s *Service) initQuotas(t *quota.Table) error {
	if t == nil {
		t = quota.New(quota.Config{}, s.store, s.log)
	}
	if err := t.Load(context.Background()); err != nil {
		return fmt.Errorf("kms: read quotas: %w", err)
	}
	s.quotas = t
	s.OnChange(quota.Kind, t.Reload)
	s.OnPurge(t.ReloadAll)
	return nil
}

// Quotas returns the node's quota table.
func (s *Service) Quotas() *quota.Table { return s.quotas }

// QuotaResources returns the resource quotas of account.
func (s *Service) QuotaResources(account string) quota.Resources { return s.quotas.Resources(account) }

// Throttle returns ThrottlingException if the caller in ctx is over its
// rate quota of class (quota.Class, quota.SpecClass), and counts the
// request otherwise.
func (s *Service) Throttle(ctx context.Context, class int) error {
	c := CallerFrom(ctx)
	if c == nil || s.quotas.Allow(c.Account, class) {
		return nil
	}
	return quota.ErrThrottled
}

// throttleKey applies the rate quota of the shared cryptographic class of
// lk's spec. GenerateDataKeyPair counts against its own quota instead (by
// key pair spec), not the wrapping key's.
func (s *Service) throttleKey(ctx context.Context, lk *Key, op string) error {
	if !s.quotas.Active() || strings.HasPrefix(op, "GenerateDataKeyPair") {
		return nil
	}
	return s.Throttle(ctx, quota.SpecClass(lk.doc.Spec))
}

// throttlePairSpec applies GenerateDataKeyPair's rate quota of spec.
func (s *Service) throttlePairSpec(ctx context.Context, spec string) error {
	return s.Throttle(ctx, quota.Class("GenerateDataKeyPair:"+spec))
}

// InsertKey writes d, a new customer managed key, with its index entry and
// the account's key count, refusing it with LimitExceededException when
// the account is at its key quota. Concurrent creations in one account
// queue on this node and conflict across nodes on the count's version, so
// the quota holds exactly.
func (s *Service) InsertKey(ctx context.Context, d *KeyDoc, data []byte) error {
	return s.insertCounted(ctx, d, data, true)
}

// insertCounted writes d with its index entry, extra operations and the
// account's key count, in one batch; with enforce, it refuses d when the
// account is at its key quota. A replica is counted without being refused
// (CreateReplica): its primary's Region made it, and refusing it here
// would leave a replica that never comes into being; the count then keeps
// the account's next CreateKey within the quota.
func (s *Service) insertCounted(ctx context.Context, d *KeyDoc, data []byte, enforce bool, extra ...store.Op) error {
	limit := s.quotas.Resources(d.Account).Keys
	return store.Update(ctx, &s.locks, []string{kindKeyCount + "/" + d.Account}, func() error {
		n, countOp, err := s.readKeyCount(ctx, d.Account)
		if err != nil {
			return err
		}
		if enforce && n >= limit {
			return awserr.Newf(awserr.LimitExceeded, "Key quota for this account in this region is %d but the current usage is %d.", limit, n)
		}
		countOp.Data, _ = json.Marshal(keyCountDoc{N: n + 1})
		ops := append([]store.Op{
			{Kind: kindKey, ID: d.ID, Data: data, Create: true},
			{Kind: kindAccountKey, ID: d.Account + "/" + d.ID, Data: []byte("{}"), Create: true},
			countOp}, extra...)
		err = s.store.Apply(ctx, ops...)
		if errors.Is(err, store.ErrExists) {
			if _, gerr := s.store.Get(ctx, kindKeyCount, d.Account); gerr == nil && countOp.Create {
				return fmt.Errorf("%w: %w", store.ErrConflict, err) // another node created the count
			}
		}
		return err
	})
}

// awsManagedIndexEntry is the key index entry of an AWS managed key: the
// key count, which quotas customer managed keys only (as AWS's does), skips
// it when it counts an account's keys from the index.
var awsManagedIndexEntry = []byte(`{"manager":"AWS"}`)

// readKeyCount returns the key count of account and the operation that
// rewrites it at the version read (or creates it, counted from the key
// index, if the account has none yet).
func (s *Service) readKeyCount(ctx context.Context, account string) (int, store.Op, error) {
	rec, err := s.store.Get(ctx, kindKeyCount, account)
	if err == nil {
		var d keyCountDoc
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return 0, store.Op{}, fmt.Errorf("kms: key count of %s: %w", account, err)
		}
		return d.N, store.Op{Kind: kindKeyCount, ID: account, IfVersion: rec.Version}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, store.Op{}, err
	}
	n := 0
	err = store.EachIn(ctx, s.store, kindAccountKey, account+"/", func(r store.Record) error {
		if !bytes.Equal(r.Data, awsManagedIndexEntry) {
			n++
		}
		return nil
	})
	return n, store.Op{Kind: kindKeyCount, ID: account, Create: true}, err
}

// keyCountDeletionOp returns the operation that takes a deleted key of
// account off the account's count, conditioned on the count's version (a
// key created meanwhile makes the deletion conflict and run again). An
// account without a count needs none: it is counted from the index.
func (s *Service) keyCountDeletionOp(ctx context.Context, account string) ([]store.Op, error) {
	rec, err := s.store.Get(ctx, kindKeyCount, account)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d keyCountDoc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, fmt.Errorf("kms: key count of %s: %w", account, err)
	}
	data, _ := json.Marshal(keyCountDoc{N: max(0, d.N-1)})
	return []store.Op{{Kind: kindKeyCount, ID: account, Data: data, IfVersion: rec.Version}}, nil
}

// policyLimit returns the key policy size quota of the account of the key
// keyARN names.
func (s *Service) policyLimit(keyARN string) int {
	return s.quotas.Resources(arn.Field(keyARN, 4)).KeyPolicyBytes
}
