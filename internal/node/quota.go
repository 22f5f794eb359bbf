package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/quota"
	"github.com/trentkms/trent/internal/store"
)

// QuotaTable returns the node's quota table from its configuration
// (quotas.*): the default resource quotas (AWS's where unset), the default
// rates (none, or AWS's), and the node's share of every rate.
func QuotaTable(cfg *config.File, st store.Store, log *slog.Logger) *quota.Table {
	q := cfg.Quotas
	c := quota.Config{Nodes: q.Nodes, Resources: quota.Resources{
		Keys: q.Keys, AliasesPerKey: q.AliasesPerKey, GrantsPerKey: q.GrantsPerKey, KeyPolicyBytes: q.KeyPolicyBytes,
		CustomKeyStores: q.CustomKeyStores, OnDemandRotations: q.OnDemandRotations,
	}}
	if q.Rates == "aws" {
		c.Rates = quota.AWSRates
	}
	return quota.New(c, st, log)
}

// OpenInitializedStore opens the store of cfg for an offline command
// (`trent admin quotas`), refusing one that no node has initialized (a
// mistyped --store or --data-dir would otherwise create an empty store).
func OpenInitializedStore(cfg *config.File) (store.Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := st.Get(context.Background(), kindBootstrap, "admin"); err != nil {
		st.Close()
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("the store of data directory %s is not initialized: start `trent serve` once first", cfg.DataDir)
		}
		return nil, err
	}
	return st, nil
}
