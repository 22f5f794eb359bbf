// Package job runs a Trent node's background work over its domain service
// (package kms): the change-feed follower that keeps the caches coherent
// across nodes and the watchdog that purges them when the feed cannot be
// read (feed.go), the scheduler that runs due jobs (scheduler.go), and
// key-usage tracking for GetKeyLastUsage (usage.go). What a job does to a
// key (delete it, rotate it, expire imported material) is the core's
// (kms.Service.RunJob); this package decides when, and records the service
// event.
//
// # Invariants
//
//   - An unconfirmed cache entry is never served for more than
//     2*PollInterval + CacheGrace + PollInterval after the feed was last
//     read: the watchdog purges every cache until a read succeeds again.
//   - A truncated feed purges every cache after repositioning, so a change
//     committed in between is read again, never lost.
//   - One node at a time runs jobs (the scheduler lease), and no job runs
//     while the audit trail cannot record its event (Config.EventsReady).
//   - The hot path never writes to the store for usage tracking: uses are
//     noted in memory and flushed in the background, at most once per key
//     per usagePersistInterval.
package job
