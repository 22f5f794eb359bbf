// Package kms is Trent's domain core: KMS keys, their states and materials
// and the sealing of those, the cryptographic operations, aliases, tags, key
// policies, rotation and deletion as operations, the resolution of key
// references, the glue to authorization, and the key cache.
//
// It imports no net/http and no cgo package (no internal/hsm, no
// internal/xks). Requests arrive as the API's input shapes (package wire)
// with the authenticated caller in the context (WithCaller); results leave
// as output shapes or *awserr.Error values that carry AWS's exception names
// and messages.
//
// # The core and its concerns
//
// Beside the core, each in a package of its own, are grants (grant),
// imported key material (keyimport), custom key stores (keystore) and
// background work (job: the change-feed follower, the scheduler, usage
// tracking). Each is built over a *Service and registers with it; the core
// defines what it needs of them (concerns.go) and they implement it:
//
//   - Grants, the grant half of authorization;
//   - KeyStores, the creation and cryptography of keys whose material lives
//     in a custom key store;
//   - KeyRecords, the records a concern keeps about a key (grants, usage),
//     deleted with it;
//   - JobHandler, a concern's own scheduled work (the purge of expired
//     import parameters).
//
// In the other direction the core exposes what the concerns build on: the
// key reference and authorization openings (ResolveKey, AuthorizedKey,
// OwnedKey, AuthorizeKeyWithGrant, AuthorizeAccount), keys (Key, KeyDoc,
// GetKey, UpdateKey, ManageKey, NewKeyMaterial, SealMaterial), validation
// (Validator), the cache hooks (OnChange, OnPurge, Invalidate,
// PurgeCaches), jobs (Job, RunJob) and the node's store, root key, clock
// and locks. A Service without its concerns (unit tests of the core) knows
// no grant and no custom key store.
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
//     grant cache (package grant) by grantee and operation.
//   - Every material a key ever had is kept until the key is deleted; a
//     ciphertext names its material, which is looked up, never guessed.
//   - Scheduled work (deletion, rotation, expiry) is a job record whose
//     removal is part of the same atomic write as the work itself (RunJob),
//     so a job runs exactly once even when several nodes race for it; a
//     key's deletion takes the records its concerns keep about it in the
//     same write.
//   - Another account learns nothing of a key it may not use: every check
//     an operation makes before authorization answers it with the denial a
//     missing key gets (beforeAuth).
package kms
