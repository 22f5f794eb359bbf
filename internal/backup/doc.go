// Package backup makes, checks and restores backups of a Trent
// installation, and moves an installation from one store to another
// (SQLite to PostgreSQL and back).
//
// # What a backup holds
//
// A backup is a directory:
//
//	manifest.json        what the backup holds, with a SHA-256 of every file
//	store/trent.db       a SQLite store: a copy made with VACUUM INTO
//	store/records.jsonl  or any other store: every record, one JSON line each
//	audit/               the audit trail: segments, digest files, public keys
//	audit-signing.key    the audit signing key, sealed under the root key
//
// Key material and every other secret stay sealed under the root key, as
// they are in the store; the backup holds no root key. The manifest names
// the root keys a restore needs (those that sealed the store's root key
// canary and the audit signing key), the store's schema version, the
// number and a SHA-256 of the records of every kind, and the audit record
// range of every node.
//
// # Consistency while serving
//
// The store is read as of one moment (store.Snapshotter: one read
// transaction; for SQLite, VACUUM INTO, which is one read transaction
// too), without stopping writers. Every write a client saw acknowledged
// before that moment is in the backup. The trail is copied after the
// store, digest files before segments, complete lines only: a node saves
// its anchor to the store only after the digest it names is durable, and
// writes a digest only after the records it covers are, so the copied
// trail reaches at least as far as the anchors in the copied store, and
// the copied segments at least as far as the copied digests. The copy is
// then verified like a trail (hash chain, digest signatures, anchors from
// the copied store); a copy that raced with segment rotation or retention
// is taken again.
//
// # Restore and the audit boundary
//
// Restore refuses a backup that does not verify, a target that is not
// empty, and a root key that cannot open what the backup holds, before it
// writes anything. After laying the backup out, it opens the restored
// node's trail with audit.Options.Restore: a signed restore digest covers
// the backup's records, the next record is a BackupRestored event naming
// the backup (ID, time, store and audit ranges), and `trent audit verify`
// reports the boundary. The change feed starts again in the restored store.
//
// # Migration
//
// Migrate copies every record of a stopped installation's store into an
// empty store of another kind, reading the source in one snapshot and
// never writing to it, and verifies the copy: the count and SHA-256 of
// every kind's records (IDs and data; versions start again at 1) must be
// equal on both sides. The audit anchors are records and move with the
// rest; the trail files stay in the data directory.
package backup
