package config

import "fmt"

// QuotasFile configures the node's default quotas, which apply to every
// account that `trent admin quotas` has not given its own (docs/quotas.md).
type QuotasFile struct {
	// Rates is the default of the request-rate quotas: "off" (the default:
	// no account is throttled unless its own quotas say so) or "aws"
	// (AWS's default request quotas for every account).
	Rates string `yaml:"rates"`
	// Nodes is the number of nodes that share the accounts' requests in
	// cluster mode: each node enforces 1/Nodes of every rate (default 1).
	Nodes int `yaml:"nodes"`
	// The default resource quotas; 0 means AWS's.
	Keys              int `yaml:"keys"`
	AliasesPerKey     int `yaml:"aliases_per_key"`
	GrantsPerKey      int `yaml:"grants_per_key"`
	KeyPolicyBytes    int `yaml:"key_policy_bytes"`
	CustomKeyStores   int `yaml:"custom_key_stores"`
	OnDemandRotations int `yaml:"on_demand_rotations"`
}

func (q *QuotasFile) validate() error {
	switch q.Rates {
	case "", "off", "aws":
	default:
		return fmt.Errorf("config: quotas.rates %q must be off or aws", q.Rates)
	}
	for _, v := range []int{q.Nodes, q.Keys, q.AliasesPerKey, q.GrantsPerKey, q.KeyPolicyBytes, q.CustomKeyStores, q.OnDemandRotations} {
		if v < 0 {
			return fmt.Errorf("config: quotas must not be negative")
		}
	}
	return nil
}
