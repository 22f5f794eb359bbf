// Package grant implements KMS grants: their records, grant tokens, the
// per-node cache that the hot path consults, and the grant operations
// (CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant).
// A Service is built over the core's *kms.Service and registers with it as
// its kms.Grants: the core asks it whether a grant allows a request only
// when the key's policies alone do not, and checks the grant tokens a
// request carries through it.
//
// # Invariants
//
//   - A grant is a store record of its own (grant.go); grants are never
//     modified, only created and deleted, and their IDs never reused.
//   - The quota of grants per key holds under any concurrency: every
//     create and delete rewrites the key's grant count in the same Apply,
//     conditioned on its version. A key's deletion deletes its grants,
//     their index entries and the count in the same Apply as the key
//     (kms.KeyRecords), conditioned on the count.
//   - No request costs in proportion to the grants of a key: the cache
//     (cache.go) indexes them by grantee and operation and is kept current
//     in place by this node's writes and the change feed.
//   - A grant token is the key and grant IDs sealed by the root key: only
//     Trent makes one, and a request that presents one is checked against
//     the store itself, so a new grant is usable at once on every node.
//   - A grant's principals are bound to the unique IDs they had when it
//     was created: a principal deleted and re-created under the same name
//     is neither its grantee nor its retiring principal.
//   - Explicit denies in the key's policies win over grants.
package grant
