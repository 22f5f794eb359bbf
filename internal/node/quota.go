package node

import (
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
