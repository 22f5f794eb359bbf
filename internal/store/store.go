// Package store defines Trent's persistence contract: a small, transactional
// document store that every backend (SQLite, PostgreSQL) implements and that
// the storetest conformance suite checks.
//
// # Model
//
// The store holds records. A record is named by (Kind, ID), carries a Version
// that the store increments on every write, and an opaque Data document that
// the domain layer owns (JSON in practice). The store never interprets Data,
// so a new kind of record needs no schema change in any backend.
//
// Writes go through Apply, which applies a batch of operations atomically:
// all of them or none. Optimistic concurrency replaces locks: an Op with
// IfVersion set fails the whole batch with ErrConflict unless the record is at
// that version, and an Op with Create fails it with ErrExists if the record
// exists. Callers read, modify and Apply with IfVersion, retrying on
// ErrConflict; this is safe with several Trent nodes on one database.
// Update (update.go) is that loop: it queues the writers of one record
// inside a process and retries with backoff across processes, so that
// concurrent writers all succeed in some order.
//
// # Durability
//
// Apply returns only after the batch is on stable storage (SQLite with
// synchronous=FULL in WAL mode; PostgreSQL with synchronous_commit on). A
// caller may acknowledge a write to its client as soon as Apply returns nil.
//
// # Change feed
//
// Every committed write or delete appends a Change with a store-wide, strictly
// increasing Seq. Changes(since) returns the changes with Seq > since in Seq
// order. The feed never skips: once a change with Seq s has been returned, no
// change with a smaller Seq can appear later. Nodes use the feed to invalidate
// their caches; the feed may be pruned of changes older than a retention
// window, in which case Changes reports ErrFeedTruncated and the caller must
// drop its whole cache.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	// ErrNotFound: no record has that kind and ID.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: an Op with Create named a record that exists.
	ErrExists = errors.New("store: already exists")
	// ErrConflict: an Op's IfVersion did not match the stored version, or the
	// record it expected no longer exists.
	ErrConflict = errors.New("store: version conflict")
	// ErrFeedTruncated: the changes after the requested Seq were pruned.
	ErrFeedTruncated = errors.New("store: change feed truncated")
	// ErrUnavailable: the backend cannot be reached (database down, timeout).
	// The domain layer reports it to clients as DependencyTimeoutException.
	ErrUnavailable = errors.New("store: backend unavailable")
)

// Record is one stored document.
type Record struct {
	Kind    string
	ID      string
	Version int64 // 1 after creation, incremented by every Put
	Data    []byte
}

// Op is one write in an Apply batch.
type Op struct {
	Kind string
	ID   string
	// Data is the new document for a put. Ignored when Delete is set.
	Data []byte
	// Delete removes the record. Deleting a missing record is not an error
	// unless IfVersion is set.
	Delete bool
	// Create requires that the record does not exist (else ErrExists).
	Create bool
	// IfVersion, when non-zero, requires the record to exist at exactly this
	// version (else ErrConflict).
	IfVersion int64
}

// Change is one entry of the change feed.
type Change struct {
	Seq     int64
	Kind    string
	ID      string
	Deleted bool
}

// Store is implemented by every storage backend. All methods are safe for
// concurrent use. Context cancellation and deadlines are honoured; a backend
// that cannot be reached returns an error wrapping ErrUnavailable.
type Store interface {
	// Get returns the record, or ErrNotFound.
	Get(ctx context.Context, kind, id string) (Record, error)

	// List returns the records of kind whose ID starts with prefix and sorts
	// strictly after `after` (byte order), in ascending ID order, at most
	// limit of them (limit <= 0 means all). An empty prefix matches all; an
	// empty after starts from the beginning.
	List(ctx context.Context, kind, prefix, after string, limit int) ([]Record, error)

	// Apply commits ops atomically and durably. It returns ErrExists or
	// ErrConflict (wrapped) if a precondition fails, in which case nothing was
	// written. Two ops in one batch must not name the same record, and an op
	// must not set both Create and IfVersion. When Apply fails with
	// ErrUnavailable or a context error, the outcome is unknown (the commit
	// may have happened), as with any remote database. Deleting a missing
	// record adds nothing to the change feed.
	Apply(ctx context.Context, ops ...Op) error

	// Changes returns up to limit changes with Seq > since, in Seq order.
	// It returns ErrFeedTruncated if changes after since were pruned.
	Changes(ctx context.Context, since int64, limit int) ([]Change, error)

	// LastSeq returns the Seq of the newest change (0 for an empty store).
	LastSeq(ctx context.Context) (int64, error)

	// TryLease acquires or renews the named lease for holder until now+ttl.
	// It returns true if holder now holds the lease; false if another holder
	// holds an unexpired lease. Leases give exactly-once background work
	// across nodes: a lease whose holder died expires after ttl.
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)

	// ReleaseLease gives up the lease if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// Close releases the backend's resources. It may be called more than once.
	Close() error
}

// Notifier is an optional capability of a Store that can push a signal when
// another node commits a change (PostgreSQL LISTEN/NOTIFY). The channel
// receives a value after one or more changes; the receiver then reads
// Changes. A notification can be lost (a node can die between its commit
// and its NOTIFY), so a Notifier shortens the feed's delay but does not
// replace slow polling.
type Notifier interface {
	Notify() <-chan struct{}
}
