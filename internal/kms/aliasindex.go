package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/trentkms/trent/internal/store"
)

// # Aliases by key
//
// Alias records are named by account and alias name, which serves
// CreateAlias, UpdateAlias and DeleteAlias by name. What a key needs, its
// alias names (for kms:ResourceAliases, the aliases-per-key quota and key
// deletion), would then be a scan of every alias in the account, a cost an
// account's own callers could raise at will. So every key with aliases also
// has one record of kind keyaliases, named by the key ID, listing its alias
// names. Every write of an alias writes the keyaliases records of the keys
// it leaves and joins in the same Apply, with IfVersion (or Create), so the
// index never disagrees with the aliases, and the quota of aliases per key
// is checked against the record that the Apply conditions on: no
// interleaving, on one node or several, can exceed it. Nodes cache the
// index in keyAliases, kept coherent by the change feed like the keys.
//
// A store written by an earlier version has aliases and no index. New
// builds the index once, before serving, and marks the store as indexed
// (kindMeta/metaAliasIndex); from then on a key without a keyaliases record
// has no aliases. All nodes of a cluster must run a version that maintains
// the index: an earlier version would write aliases without it.

const (
	kindKeyAliases = "keyaliases"
	// kindMeta holds markers of one-time store conversions.
	kindMeta       = "kmsmeta"
	metaAliasIndex = "keyaliases-v1"
)

// keyAliasesDoc is the stored form of a key's alias names, sorted.
type keyAliasesDoc struct {
	Names []string `json:"names"`
}

// loadKeyAliases is the keyAliases cache's loader: a key without a
// keyaliases record has no aliases.
func (s *Service) loadKeyAliases(ctx context.Context, keyID string) ([]string, int64, error) {
	names, op, err := s.readKeyAliases(ctx, keyID)
	if err != nil {
		return nil, 0, err
	}
	return names, op.IfVersion, nil
}

// readKeyAliases reads the alias names of keyID from the store. It also
// returns the op that rewrites them on the condition that they have not
// changed meanwhile: Kind and ID set, and IfVersion, or Create when the key
// has no record yet; the caller sets Data.
func (s *Service) readKeyAliases(ctx context.Context, keyID string) ([]string, store.Op, error) {
	op := store.Op{Kind: kindKeyAliases, ID: keyID}
	rec, err := s.store.Get(ctx, kindKeyAliases, keyID)
	if errors.Is(err, store.ErrNotFound) {
		op.Create = true
		return nil, op, nil
	}
	if err != nil {
		return nil, op, err
	}
	var d keyAliasesDoc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, op, fmt.Errorf("kms: decode aliases of key %s: %w", keyID, err)
	}
	op.IfVersion = rec.Version
	return d.Names, op, nil
}

// keyAliasesOp returns op with names as its data.
func keyAliasesOp(op store.Op, names []string) store.Op {
	if names == nil {
		names = []string{}
	}
	op.Data, _ = json.Marshal(keyAliasesDoc{Names: names})
	return op
}

// forgetKeyAliases drops the cached alias names of the key that op (just
// applied) rewrote. It does not cache names: by the time it runs, another
// node may have written a newer list, and the change feed may already have
// reported it, so the next reader loads the list from the store.
func (s *Service) forgetKeyAliases(op store.Op) {
	s.keyAliases.Invalidate(op.ID)
}

// withName returns names with name added, in order (a new slice).
func withName(names []string, name string) []string {
	i, found := slices.BinarySearch(names, name)
	if found {
		return names
	}
	return slices.Insert(slices.Clip(names), i, name)
}

// withoutName returns names without name (a new slice if it changes).
func withoutName(names []string, name string) []string {
	i, found := slices.BinarySearch(names, name)
	if !found {
		return names
	}
	return slices.Delete(slices.Clone(names), i, i+1)
}

// aliasNamesOf returns the alias names of key id, sorted. The slice is
// shared with the cache: callers must not modify it.
func (s *Service) aliasNamesOf(ctx context.Context, id string) ([]string, error) {
	names, err := s.keyAliases.Get(ctx, id)
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	return names, nil
}

// migrateAliasIndex builds the keyaliases records of a store written by a
// version without them, once. Nodes starting together may both run it:
// Create makes the first writer of each record win, and what either wrote
// is complete, because it lists aliases that no writer of this version has
// touched (one that did wrote the key's record first).
func (s *Service) migrateAliasIndex(ctx context.Context) error {
	_, err := s.store.Get(ctx, kindMeta, metaAliasIndex)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	byKey := map[string][]string{}
	err = store.Each(ctx, s.store, kindAlias, func(r store.Record) error {
		var a aliasDoc
		if err := json.Unmarshal(r.Data, &a); err != nil {
			return fmt.Errorf("kms: decode alias %s: %w", r.ID, err)
		}
		byKey[a.KeyID] = withName(byKey[a.KeyID], a.Name)
		return nil
	})
	if err != nil {
		return err
	}
	for keyID, names := range byKey {
		op := keyAliasesOp(store.Op{Kind: kindKeyAliases, ID: keyID, Create: true}, names)
		if err := s.store.Apply(ctx, op); err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	if len(byKey) > 0 {
		s.log.Info("indexed aliases by key", "keys", len(byKey))
	}
	err = s.store.Apply(ctx, store.Op{Kind: kindMeta, ID: metaAliasIndex, Data: []byte("{}"), Create: true})
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	return err
}
