package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/reseal"
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
	cur := s.root.CurrentID()
	n := 0
	err := store.Each(ctx, s.store, kindKey, func(r store.Record) error {
		var d KeyDoc
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return fmt.Errorf("kms: decode key %s: %w", r.ID, err)
		}
		need := false
		for _, m := range d.Materials {
			need = need || reseal.Stale(m.Sealed, cur)
		}
		if !need {
			return nil
		}
		// Key records change through UpdateKey, which keeps the key
		// cache coherent, rather than through store.Rewrite.
		_, err := s.UpdateKey(ctx, r.ID, func(d *KeyDoc, _ int64) ([]store.Op, error) {
			for i := range d.Materials {
				m := &d.Materials[i]
				if !reseal.Stale(m.Sealed, cur) {
					continue
				}
				sealed, err := reseal.Blob(s.root, m.Sealed, materialAAD(d.ID, m.ID))
				if err != nil {
					return nil, fmt.Errorf("kms: reseal key %s: %w", d.ID, err)
				}
				m.Sealed = sealed
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
