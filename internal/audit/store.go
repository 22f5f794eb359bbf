package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/store"
)

// What of the audit trail lives outside the trail directory: the anchors,
// in Trent's store, and the digest signing key, sealed under the root key
// in the data directory. The node writes both; trent backup copies them,
// trent restore puts them back and opens the trail once to record the
// restore, so all of them name them here.

// AnchorKind is the store record kind of the audit anchors: one record per
// node, keyed by node ID, holding its AnchorState as JSON. Only that
// node's Log writes it, once per digest, never per call.
const AnchorKind = "audit-anchor"

// SigningKeyFile is the name, in the data directory, of the file that
// holds the digest signing key's Ed25519 seed sealed under the root key
// (with SigningKeyAAD), so that a stolen trail directory cannot be
// re-signed.
const SigningKeyFile = "audit-signing.key"

// SigningKeyAAD binds the sealed digest signing key to its purpose.
var SigningKeyAAD = []byte("trent/audit-signing-key/v1")

// StoreAnchor is the Anchor of a store (AnchorKind records). A store shared
// by a cluster is used as it is; a store that belongs to one data directory
// (SQLite) is a DataDirAnchor.
type StoreAnchor struct{ Store store.Store }

// LoadAnchor implements Anchor.
func (a StoreAnchor) LoadAnchor(ctx context.Context, node string) (AnchorState, bool, error) {
	rec, err := a.Store.Get(ctx, AnchorKind, node)
	if errors.Is(err, store.ErrNotFound) {
		return AnchorState{}, false, nil
	}
	if err != nil {
		return AnchorState{}, false, err
	}
	s, err := ParseAnchor(node, rec.Data)
	if err != nil {
		return AnchorState{}, false, err
	}
	return s, true, nil
}

// SaveAnchor implements Anchor.
func (a StoreAnchor) SaveAnchor(ctx context.Context, s AnchorState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return a.Store.Apply(ctx, store.Op{Kind: AnchorKind, ID: s.Node, Data: data})
}

// DataDirAnchor is the StoreAnchor of a store that belongs to one data
// directory (SQLite): it lists the nodes it anchors (AnchorLister).
type DataDirAnchor struct{ StoreAnchor }

// AnchoredNodes implements AnchorLister.
func (a DataDirAnchor) AnchoredNodes(ctx context.Context) ([]string, error) {
	var nodes []string
	err := store.Each(ctx, a.Store, AnchorKind, func(r store.Record) error {
		nodes = append(nodes, r.ID)
		return nil
	})
	return nodes, err
}

// ParseAnchor decodes the anchor record of node (an AnchorKind record's
// data), refusing one that does not decode or names another node.
func ParseAnchor(node string, data []byte) (AnchorState, error) {
	var s AnchorState
	if err := json.Unmarshal(data, &s); err != nil || s.Node != node {
		return AnchorState{}, fmt.Errorf("audit anchor of node %q is malformed", node)
	}
	return s, nil
}
