package metrics

// ReplicationCollector is the place of the replication state of
// multi-Region keys (issue 13): per replica Region, the replicas in sync
// and behind, and the age of the oldest unreplicated change
// (trent_replication_...). Multi-Region replication is not built yet;
// when it is, its package implements prometheus.Collector over its own
// counters (no key ID as a label) and internal/node registers it here.
type ReplicationCollector interface {
	// Replication is a marker: the replicator's collector.
	Replication()
}
