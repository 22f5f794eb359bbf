package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// ResealAll re-seals, under the root key provider's current root key, every
// secret of this package that a store record holds sealed under another
// root key: key materials, custom key store secrets and pending import
// parameters. Each record is rewritten with optimistic concurrency, so
// ResealAll runs while the service (or other nodes) serve requests. It
// calls progress, if not nil, after each rewritten record with the count
// so far, and returns how many records it rewrote. Running it again after
// it returned is cheap: up-to-date records are only read.
//
// Import tokens already handed to clients are not store records; they stop
// working once the root key that sealed them is retired.
func (s *Service) ResealAll(ctx context.Context, progress func(n int)) (int, error) {
	cur := s.root.CurrentID()
	stale := func(blob []byte) bool {
		if blob == nil {
			return false
		}
		id, err := rootkey.SealedBy(blob)
		return err == nil && id != cur
	}
	n := 0
	done := func() {
		n++
		if progress != nil {
			progress(n)
		}
	}
	err := s.eachRecord(ctx, kindKey, func(r store.Record) error {
		var d KeyDoc
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return fmt.Errorf("kms: decode key %s: %w", r.ID, err)
		}
		need := false
		for _, m := range d.Materials {
			need = need || stale(m.Sealed)
		}
		if !need {
			return nil
		}
		_, err := s.UpdateKey(ctx, r.ID, func(d *KeyDoc, _ int64) ([]store.Op, error) {
			for i := range d.Materials {
				m := &d.Materials[i]
				if !stale(m.Sealed) {
					continue
				}
				aad := materialAAD(d.ID, m.ID)
				pt, err := s.root.Open(m.Sealed, aad)
				if err != nil {
					return nil, fmt.Errorf("kms: reseal key %s: %w", d.ID, err)
				}
				m.Sealed, err = s.root.Seal(pt, aad)
				clear(pt)
				if err != nil {
					return nil, err
				}
			}
			return nil, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile
		}
		if err == nil {
			done()
		}
		return err
	})
	if err != nil {
		return n, err
	}
	err = s.eachRecord(ctx, kindKeyStore, func(r store.Record) error {
		return s.resealRecord(ctx, r, stale, func(data []byte) ([]byte, bool, error) {
			var d keyStoreDoc
			if err := json.Unmarshal(data, &d); err != nil || !stale(d.SealedSecret) {
				return nil, false, err
			}
			var err error
			if d.SealedSecret, err = s.reseal(d.SealedSecret, keyStoreSecretAAD(d.ID)); err != nil {
				return nil, false, err
			}
			out, err := json.Marshal(&d)
			return out, true, err
		}, done)
	})
	if err != nil {
		return n, err
	}
	err = s.eachRecord(ctx, kindImportParams, func(r store.Record) error {
		return s.resealRecord(ctx, r, stale, func(data []byte) ([]byte, bool, error) {
			var d importParamsDoc
			if err := json.Unmarshal(data, &d); err != nil || !stale(d.SealedPrivate) {
				return nil, false, err
			}
			var err error
			if d.SealedPrivate, err = s.reseal(d.SealedPrivate, importKeyAAD(r.ID)); err != nil {
				return nil, false, err
			}
			out, err := json.Marshal(&d)
			return out, true, err
		}, done)
	})
	return n, err
}

// reseal opens blob and seals its content under the current root key.
func (s *Service) reseal(blob, aad []byte) ([]byte, error) {
	pt, err := s.root.Open(blob, aad)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return s.root.Seal(pt, aad)
}

// resealRecord rewrites one record with fn, rereading it after a conflict.
func (s *Service) resealRecord(ctx context.Context, r store.Record, _ func([]byte) bool, fn func([]byte) ([]byte, bool, error), done func()) error {
	reread := false
	return store.Update(ctx, &s.locks, []string{r.Kind + "/" + r.ID}, func() error {
		if reread {
			var err error
			if r, err = s.store.Get(ctx, r.Kind, r.ID); errors.Is(err, store.ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
		}
		reread = true
		data, changed, err := fn(r.Data)
		if err != nil || !changed {
			return err
		}
		if err := s.store.Apply(ctx, store.Op{Kind: r.Kind, ID: r.ID, Data: data, IfVersion: r.Version}); err != nil {
			return err
		}
		done()
		return nil
	})
}

// eachRecord calls fn for every record of kind, in pages.
func (s *Service) eachRecord(ctx context.Context, kind string, fn func(store.Record) error) error {
	after := ""
	for {
		recs, err := s.store.List(ctx, kind, "", after, 200)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < 200 {
			return nil
		}
		after = recs[len(recs)-1].ID
	}
}
