// Package keyring is the in-memory read-through cache that keeps the hot path
// (Encrypt, Decrypt, GenerateDataKey) off the database.
//
// A Ring maps an ID (a key ID, an alias name) to a loaded value and the store
// version it was loaded at. Values are immutable once loaded: a change to a
// key produces a new value, never an edit in place, so readers need no locks
// beyond the map's.
//
// # Staleness
//
// Entries are invalidated explicitly (after a local write, or when the store's
// change feed reports a write from another node) and also expire after
// MaxAge, a safety net for missed notifications. When a reload fails because
// the store is unavailable, an expired entry keeps serving for at most Grace
// beyond MaxAge; after that the error is returned. Grace bounds how long a
// node partitioned from its database keeps honouring a key that may have been
// disabled elsewhere; set it to zero to fail closed at once.
package keyring
