package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
)

// kindStoreCount records the number of custom key stores of an account
// (ID = account): {"n": N}. Every creation and deletion of a store rewrites
// it in the same atomic batch, conditioned on its version, so that the
// account's quota of custom key stores (and the uniqueness of names, which
// creation checks again under it) holds across concurrent requests on any
// number of nodes. An account without one is counted from its stores.
const kindStoreCount = "kscount"

type storeCountDoc struct {
	N int `json:"n"`
}

// createKeyStore writes d, a new custom key store, refusing it with
// LimitExceededException when its account is at its quota.
func (s *Service) createKeyStore(ctx context.Context, d *keyStoreDoc) error {
	limit := s.kms.QuotaResources(d.Account).CustomKeyStores
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	err = store.Update(ctx, s.kms.Locks(), []string{kindStoreCount + "/" + d.Account}, func() error {
		existing, err := s.listKeyStores(ctx, d.Account)
		if err != nil {
			return err
		}
		for _, e := range existing {
			if e.Name == d.Name {
				return awserr.Newf(awserr.CustomKeyStoreNameInUse, "Custom key store name %s is already in use.", d.Name)
			}
		}
		countOp := store.Op{Kind: kindStoreCount, ID: d.Account, Create: true}
		n := len(existing)
		rec, err := s.store.Get(ctx, kindStoreCount, d.Account)
		switch {
		case err == nil:
			var c storeCountDoc
			if err := json.Unmarshal(rec.Data, &c); err != nil {
				return fmt.Errorf("keystore: store count of %s: %w", d.Account, err)
			}
			n, countOp = c.N, store.Op{Kind: kindStoreCount, ID: d.Account, IfVersion: rec.Version}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if n >= limit {
			return awserr.Newf(awserr.LimitExceeded, "The request was rejected because the number of custom key stores in this account exceeds the limit of %d.", limit)
		}
		countOp.Data, _ = json.Marshal(storeCountDoc{N: n + 1})
		err = s.store.Apply(ctx, store.Op{Kind: kindKeyStore, ID: keyStoreRecordID(d.Account, d.ID), Data: data, Create: true}, countOp)
		if errors.Is(err, store.ErrExists) && countOp.Create {
			return fmt.Errorf("%w: %w", store.ErrConflict, err) // another node counted first
		}
		return err
	})
	if err != nil {
		return s.kms.StoreErr(ctx, err)
	}
	s.dropConn(keyStoreRecordID(d.Account, d.ID))
	return nil
}

// storeCountDeletionOps returns the operation that takes a deleted store
// off its account's count, conditioned on the count's version.
func (s *Service) storeCountDeletionOps(ctx context.Context, account string) ([]store.Op, error) {
	rec, err := s.store.Get(ctx, kindStoreCount, account)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c storeCountDoc
	if err := json.Unmarshal(rec.Data, &c); err != nil {
		return nil, fmt.Errorf("keystore: store count of %s: %w", account, err)
	}
	data, _ := json.Marshal(storeCountDoc{N: max(0, c.N-1)})
	return []store.Op{{Kind: kindStoreCount, ID: account, Data: data, IfVersion: rec.Version}}, nil
}
