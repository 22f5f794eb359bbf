// Package kms is Trent's domain: KMS keys, their states, materials, aliases,
// tags, policies and grants, and the operations of the AWS KMS API on them.
//
// It imports no net/http. Requests arrive as the API's input shapes (types.go)
// with the authenticated caller in the context (WithCaller); results leave as
// output shapes or *awserr.Error values that carry AWS's exception names and
// messages.
//
// # Invariants
//
//   - Key material is sealed by the root key (rootkey.Provider) before it is
//     stored, bound to its key ID and material ID by the associated data. It
//     is held in the clear only in memory, in the keyring cache.
//   - A key is one store record; its materials, tags and policy live inside
//     it, so every change to a key is one atomic, versioned write. Aliases,
//     grants and scheduled jobs are records of their own.
//   - Every write is read-modify-write with the store's optimistic
//     concurrency (IfVersion), so several Trent nodes may share a store.
//     Writers of one key, alias or key's grants queue inside a node and
//     retry with backoff across nodes (store.Update): concurrent mutations
//     all succeed, in some order.
//   - Quotas per key (aliases, grants, tags) are checked against a record
//     that the creating write is conditioned on (the key's alias list, its
//     grant count, the key itself), so no interleaving exceeds them.
//   - No request costs in proportion to the aliases of an account or the
//     grants of a key: aliases are indexed by key (aliasindex.go), and the
//     grant cache by grantee and operation (grantcache.go).
//   - Every material a key ever had is kept until the key is deleted; a
//     ciphertext names its material, which is looked up, never guessed.
//   - Scheduled work (deletion, rotation, expiry) is a job record whose
//     removal is part of the same atomic write as the work itself, so a job
//     runs exactly once even when several nodes race for it.
package kms
