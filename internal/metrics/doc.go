// Package metrics holds Trent's Prometheus metrics: one registry per node,
// the families the request path updates itself (requests, authentication
// failures, throttling, store calls, audit batches), and helpers with which
// internal/node exposes the counters other packages keep (connections, the
// key cache, the audit trail, the change feed, the scheduler). The registry
// is served by its own listener (internal/node), never on the API port.
//
// # Names and labels
//
// Every family is named trent_..., in base units (seconds, bytes), with
// _total on counters. Label values come from bounded sets only: a protocol
// ("kms", "iam", "sts"), an operation of the protocols' tables (any other
// name is "unknown"), an outcome, an AWS error code (at most MaxCodes
// distinct codes per family; more are "other"), a store call, a cache. A
// key ID, alias, access key, principal or source address is never a label:
// a client could otherwise grow the series without bound.
//
// # Cost
//
// A request costs one map lookup of its operation, one histogram
// observation and one counter increment, all lock-free; the counters of
// the other packages are plain atomics read only when Prometheus scrapes.
//
// # Replication
//
// The replication state of multi-Region keys (trent_replication_*, per
// peer Region) is ReplicationCollector (replication.go), which package
// peer implements and node registers when the deployment has peers.
package metrics
