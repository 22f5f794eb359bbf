// Package storetest is the conformance suite for store.Store backends.
//
// Every backend runs the same suite from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (store.Store, storetest.Reopen) { ... })
//	}
//
// The suite checks the contract written in package store: reads (Get, List
// with prefix, after and limit, byte ordering, binary-safe IDs), Apply
// atomicity and its preconditions (Create, IfVersion), version increments,
// deletes, the change feed (every committed change exactly once, in strictly
// increasing Seq order), optimistic concurrency under many goroutines,
// writers serialized by store.Update (all succeed; a counted limit is never
// exceeded), leases,
// durability across Close and reopen, large documents and context
// cancellation. Sub-tests are named ok/... and fail/....
//
// Two points the store contract leaves open are pinned here: List with
// after == "" lists from the start (so a record with the empty ID is
// listed), and a Delete of a missing record adds no change to the feed.
//
// The suite closes every store it is given (once); the Opener owns the
// database itself and removes it in a t.Cleanup of its own.
package storetest
