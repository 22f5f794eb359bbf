// Package sqlite is the single-node store.Store backend, on SQLite through
// modernc.org/sqlite (pure Go, no cgo).
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: Apply, TryLease and
// ReleaseLease return only after their transaction's WAL frames are fsynced.
//
// # One writer, group commit
//
// All writes go through one goroutine that owns the only write connection.
// It takes every write request that is waiting, applies them in one
// transaction and commits once, so concurrent writers share one fsync (group
// commit). Requests in a group are applied in arrival order and see each
// other's effects, so the outcome equals running them one after another.
// Each request checks all its preconditions before it writes anything, so a
// request that fails with ErrExists or ErrConflict leaves no trace and does
// not disturb the other requests in the group. A request that fails for
// another reason (an SQL error) aborts the group, whose requests are then
// retried one transaction each, so one bad request cannot fail others.
//
// Reads use a separate pool of connections, which WAL lets run beside the
// writer; a read sees every write whose Apply has returned.
//
// # Change feed
//
// changes.seq is an AUTOINCREMENT key written only by the single writer, so
// Seq order is commit order and the feed never skips. Pruning (see Options)
// deletes old changes and records the highest pruned Seq in meta; Changes
// reads that mark after reading the changes, so a concurrent prune can only
// make it report ErrFeedTruncated, never return a feed with a hole.
//
// # Schema
//
// The schema is versioned in schema_version and migrated by an ordered list
// of SQL scripts, all in one transaction. Open refuses a database whose
// schema is newer than this code knows. Kinds and IDs are stored as BLOBs,
// so they are binary-safe and ordered by bytes.
package sqlite
