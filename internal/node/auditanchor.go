package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/store"
)

// kindAuditAnchor records hold each node's audit anchor (audit.AnchorState
// as JSON), keyed by node ID: the latest durable digest of the node's
// trail, kept in the store so that cutting the end of the trail directory
// is detected (in cluster mode the store is PostgreSQL, on another
// machine). One record per node; only that node's audit writer puts it,
// once per digest, never per call.
const kindAuditAnchor = "audit-anchor"

// storeAnchor is the audit.Anchor of a store.
type storeAnchor struct{ st store.Store }

func (a storeAnchor) LoadAnchor(ctx context.Context, node string) (audit.AnchorState, bool, error) {
	rec, err := a.st.Get(ctx, kindAuditAnchor, node)
	if errors.Is(err, store.ErrNotFound) {
		return audit.AnchorState{}, false, nil
	}
	if err != nil {
		return audit.AnchorState{}, false, err
	}
	var s audit.AnchorState
	if err := json.Unmarshal(rec.Data, &s); err != nil || s.Node != node {
		return audit.AnchorState{}, false, fmt.Errorf("audit anchor of node %q is malformed", node)
	}
	return s, true, nil
}

func (a storeAnchor) SaveAnchor(ctx context.Context, s audit.AnchorState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return a.st.Apply(ctx, store.Op{Kind: kindAuditAnchor, ID: s.Node, Data: data})
}

// dataDirAnchor is the storeAnchor of a SQLite store, which belongs to one
// data directory: it lists the nodes it anchors (audit.AnchorLister).
type dataDirAnchor struct{ storeAnchor }

func (a dataDirAnchor) AnchoredNodes(ctx context.Context) ([]string, error) {
	var nodes []string
	after := ""
	for {
		recs, err := a.st.List(ctx, kindAuditAnchor, "", after, 100)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			nodes = append(nodes, r.ID)
		}
		if len(recs) < 100 {
			return nodes, nil
		}
		after = recs[len(recs)-1].ID
	}
}

// AuditDataDir gives `trent audit` a data directory's trail and anchors,
// read from cfg (the --config file, with --data-dir and --store applied)
// as `trent serve` reads them. It needs no root key: anchors are not
// secret.
func AuditDataDir(load func(configPath, dataDir, storeURL string) (*config.File, error)) audit.DataDir {
	return audit.DataDir{
		TrailDir: func(configPath, dataDir, storeURL string) (string, string, error) {
			cfg, err := load(configPath, dataDir, storeURL)
			if err != nil {
				return "", "", err
			}
			if err := cfg.Validate(); err != nil {
				return "", "", err
			}
			return cfg.Audit.Dir, auditNode(cfg), nil
		},
		OpenAnchor: func(configPath, dataDir, storeURL string) (audit.Anchor, func(), error) {
			cfg, err := load(configPath, dataDir, storeURL)
			if err != nil {
				return nil, nil, err
			}
			if err := cfg.Validate(); err != nil {
				return nil, nil, err
			}
			sqlite := cfg.Store == "" || strings.HasPrefix(cfg.Store, "sqlite:")
			if sqlite {
				// Opening would create an empty database, whose missing
				// anchors would pass for a new installation.
				path := strings.TrimPrefix(cfg.Store, "sqlite:")
				if path == "" {
					path = filepath.Join(cfg.DataDir, "trent.db")
				}
				if _, err := os.Stat(path); err != nil {
					return nil, nil, fmt.Errorf("data directory %s has no store (%s): the trail anchors are in it; give --store if it is elsewhere", cfg.DataDir, path)
				}
			}
			st, err := openStore(cfg)
			if err != nil {
				return nil, nil, err
			}
			if sqlite {
				return dataDirAnchor{storeAnchor{st}}, func() { st.Close() }, nil
			}
			return storeAnchor{st}, func() { st.Close() }, nil
		},
	}
}
