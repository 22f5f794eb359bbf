package metrics

import "github.com/prometheus/client_golang/prometheus"

// ReplicationCollector is the place of the replication state of
// multi-Region keys: per peer Region, the key states delivered and applied,
// the deliveries that failed (and are retried), the messages received and
// refused, and how long the last change waited (trent_replication_...).
// Package peer implements it over package replica's counters (no key ID
// as a label) and internal/node registers it with RegisterReplication.
type ReplicationCollector interface {
	prometheus.Collector
	// Replication is a marker: the replicator's collector.
	Replication()
}

// RegisterReplication registers the collector of multi-Region replication.
func (m *Metrics) RegisterReplication(c ReplicationCollector) { m.reg.MustRegister(c) }
