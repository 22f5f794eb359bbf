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
// key material that a key record holds sealed under another root key (the
// concerns re-seal their own secrets: custom key store credentials, import
// parameters). Each record is rewritten with optimistic concurrency, so
// ResealAll runs while the service (or other nodes) serve requests. It
// calls progress, if not nil, after each rewritten record with the count
// so far, and returns how many records it rewrote. Running it again after
// it returned is cheap: up-to-date records are only read.
func (s *Service) ResealAll(ctx context.Context, progress func(n int)) (int, error) {
	stale := s.staleSeal()
	n := 0
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
			n++
			if progress != nil {
				progress(n)
			}
		}
		return err
	})
	return n, err
}

// staleSeal returns a function that reports whether a blob is sealed under
// a root key other than the one current now.
func (s *Service) staleSeal() func(blob []byte) bool {
	cur := s.root.CurrentID()
	return func(blob []byte) bool {
		if blob == nil {
			return false
		}
		id, err := rootkey.SealedBy(blob)
		return err == nil && id != cur
	}
}

// ResealRecords is ResealAll for the records of kind that a concern keeps
// (each holding one sealed secret). rewrite gets a record's ID and data and
// stale, which reports whether a blob is sealed under a root key other than
// the current one; if the record holds a stale blob, it returns the data
// with that blob re-sealed (Reseal) and true. Each record is rewritten with
// optimistic concurrency and reread after a conflict. ResealRecords calls
// progress, if not nil, after each rewritten record with the count so far,
// and returns how many records it rewrote.
func (s *Service) ResealRecords(ctx context.Context, kind string, progress func(n int),
	rewrite func(id string, data []byte, stale func(blob []byte) bool) ([]byte, bool, error)) (int, error) {
	stale := s.staleSeal()
	n := 0
	err := s.eachRecord(ctx, kind, func(r store.Record) error {
		return s.resealRecord(ctx, r, func(data []byte) ([]byte, bool, error) { return rewrite(r.ID, data, stale) }, func() {
			n++
			if progress != nil {
				progress(n)
			}
		})
	})
	return n, err
}

// Reseal opens blob, sealed with aad, and seals its content under the
// current root key.
func (s *Service) Reseal(blob, aad []byte) ([]byte, error) {
	pt, err := s.root.Open(blob, aad)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return s.root.Seal(pt, aad)
}

// resealRecord rewrites one record with fn, rereading it after a conflict.
func (s *Service) resealRecord(ctx context.Context, r store.Record, fn func([]byte) ([]byte, bool, error), done func()) error {
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
