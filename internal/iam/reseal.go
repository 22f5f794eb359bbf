package iam

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/trentkms/trent/internal/reseal"
)

// ResealAll re-seals, under the root key provider's current root key, every
// access key secret sealed under another root key. Each record is
// rewritten with optimistic concurrency (retrying on conflicts), so it runs
// while servers use the directory. It calls progress, if not nil, after
// each rewritten record and returns how many it rewrote.
func (d *Directory) ResealAll(ctx context.Context, progress func(n int)) (int, error) {
	cur := d.root.CurrentID()
	return reseal.Records(ctx, d.store, &d.locks, KindAccessKey, func(akid string, data []byte) ([]byte, bool, error) {
		return d.resealKey(akid, data, cur)
	}, d.keys.Invalidate, progress)
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

// resealKey returns the record data of access key akid with its secret
// sealed under the current root key cur, and whether that changed anything.
func (d *Directory) resealKey(akid string, data []byte, cur string) ([]byte, bool, error) {
	var doc accessKeyDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, false, fmt.Errorf("iam: decode access key %s: %w", akid, err)
	}
	if !reseal.Stale(doc.SealedSecret, cur) {
		return nil, false, nil
	}
	sealed, err := reseal.Blob(d.root, doc.SealedSecret, secretAAD(akid))
	if err != nil {
		return nil, false, fmt.Errorf("iam: reseal access key %s: %w", akid, err)
	}
	doc.SealedSecret = sealed
	if doc.SessionTokenHash == nil && doc.LegacySessionToken != "" {
		// A rewrite is the moment to stop storing a legacy token.
		doc.SessionTokenHash, doc.LegacySessionToken = sessionTokenHash(doc.LegacySessionToken), ""
	}
	out, err := json.Marshal(&doc)
	return out, err == nil, err
}
