// Package postgres is the multi-node store.Store backend, on PostgreSQL
// through pgx/v5 (pgxpool). Several Trent nodes share one database.
//
// # Schema and migrations
//
// The tables live in the connection's current schema (set search_path in
// the URL, e.g. ?search_path=trent, to choose it). Migrations are an ordered
// list of SQL scripts recorded in schema_version, run in one transaction
// while holding a session advisory lock keyed by the schema, so nodes that
// start together migrate once. Open refuses a schema newer than this code.
// Kinds and IDs are bytea: binary-safe and ordered by bytes.
//
// # Writes
//
// Apply runs in one READ COMMITTED transaction. Each op is a single
// conditional statement (INSERT ... ON CONFLICT DO NOTHING for Create,
// UPDATE/DELETE ... WHERE version = $n for IfVersion, an upsert otherwise);
// row locks serialize concurrent writers of one record and PostgreSQL
// re-checks the condition after waiting, so exactly one of several
// conflicting writers succeeds. Ops are sorted by (kind, id) to avoid
// deadlocks between batches. Commit is durable with synchronous_commit on.
//
// # Change feed that never skips
//
// A bigserial hands out Seqs at insert time but transactions commit in any
// order, so a reader could see Seq 6 before Seq 5 commits and skip 5.
// Apply therefore takes a transaction-scoped advisory lock in shared mode
// (pg_advisory_xact_lock_shared) after writing its records and before it
// draws Seqs for its changes; the lock is released only after the commit is
// visible. Writers share the lock, so their commits (and fsyncs) still run
// in parallel and PostgreSQL can group them. A reader first computes a
// horizon: in a short transaction it takes the same lock exclusively, which
// waits for the writers that hold it, and reads the sequence's last value.
// Every Seq at or below the horizon then belongs to a finished transaction,
// and Changes and LastSeq never report past the horizon, so a change can
// never appear below a Seq already returned. New writers queue behind a
// waiting reader for about one commit, which is cheap at the rate nodes
// poll the feed. Gaps from rolled-back transactions are possible and
// harmless.
//
// # Availability
//
// Every call runs under the caller's deadline or, without one, a default
// timeout (Options.Timeout), so nothing hangs when PostgreSQL is down.
// Errors that mean the database cannot be reached (refused or reset
// connections, timeouts, server shutdown) wrap store.ErrUnavailable; the
// caller's own cancellation is reported as its context error. The pool
// replaces dead connections by itself, so calls succeed again once the
// database is back, without reopening the Store.
//
// # Notifications
//
// Store implements store.Notifier. After commits, a goroutine sends one
// NOTIFY trent_changes (payload: the schema name) per burst of commits; it
// is not sent inside Apply's transaction because NOTIFY serializes commits
// on a database-wide lock. A node that dies between commit and NOTIFY sends
// none, so users of Notify must still poll, slowly, as a fallback. A
// dedicated connection LISTENs, reconnects with backoff after errors and
// pings itself when idle, and signals once after every reconnect because
// notifications sent while it was away are lost.
package postgres
