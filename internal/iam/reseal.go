package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// ResealAll re-seals, under the root key provider's current root key, every
// access key secret sealed under another root key. Each record is
// rewritten with optimistic concurrency (retrying on conflicts), so it runs
// while servers use the directory. It calls progress, if not nil, after
// each rewritten record and returns how many it rewrote.
func (d *Directory) ResealAll(ctx context.Context, progress func(n int)) (int, error) {
	cur := d.root.CurrentID()
	n := 0
	after := ""
	for {
		recs, err := d.store.List(ctx, KindAccessKey, "", after, 200)
		if err != nil {
			return n, err
		}
		for _, r := range recs {
			changed, err := d.resealOne(ctx, r, cur)
			if err != nil {
				return n, err
			}
			if changed {
				n++
				if progress != nil {
					progress(n)
				}
			}
		}
		if len(recs) < 200 {
			return n, nil
		}
		after = recs[len(recs)-1].ID
	}
}

// SealedSecret returns the sealed secret of access key akid as stored, and
// the associated data it was sealed with, so that a node can check at start
// that its root key opens what the store holds (store.ErrNotFound if there
// is no such key).
func (d *Directory) SealedSecret(ctx context.Context, akid string) (blob, aad []byte, err error) {
	rec, err := d.store.Get(ctx, KindAccessKey, akid)
	if err != nil {
		return nil, nil, err
	}
	var doc accessKeyDoc
	if err := json.Unmarshal(rec.Data, &doc); err != nil {
		return nil, nil, fmt.Errorf("iam: decode access key %s: %w", akid, err)
	}
	return doc.SealedSecret, secretAAD(akid), nil
}

func (d *Directory) resealOne(ctx context.Context, r store.Record, cur string) (bool, error) {
	changed, reread := false, false
	err := store.Update(ctx, &d.locks, []string{KindAccessKey + "/" + r.ID}, func() error {
		if reread {
			var err error
			if r, err = d.store.Get(ctx, KindAccessKey, r.ID); errors.Is(err, store.ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
		}
		reread = true
		var doc accessKeyDoc
		if err := json.Unmarshal(r.Data, &doc); err != nil {
			return fmt.Errorf("iam: decode access key %s: %w", r.ID, err)
		}
		if id, err := rootkey.SealedBy(doc.SealedSecret); err != nil || id == cur {
			return nil
		}
		aad := secretAAD(r.ID)
		pt, err := d.root.Open(doc.SealedSecret, aad)
		if err != nil {
			return fmt.Errorf("iam: reseal access key %s: %w", r.ID, err)
		}
		doc.SealedSecret, err = d.root.Seal(pt, aad)
		clear(pt)
		if doc.SessionTokenHash == nil && doc.LegacySessionToken != "" {
			// A rewrite is the moment to stop storing a legacy token.
			doc.SessionTokenHash, doc.LegacySessionToken = sessionTokenHash(doc.LegacySessionToken), ""
		}
		if err != nil {
			return err
		}
		data, err := json.Marshal(&doc)
		if err != nil {
			return err
		}
		if err := d.store.Apply(ctx, store.Op{Kind: KindAccessKey, ID: r.ID, Data: data, IfVersion: r.Version}); err != nil {
			return err
		}
		d.keys.Invalidate(r.ID)
		changed = true
		return nil
	})
	return changed, err
}
