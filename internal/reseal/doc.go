// Package reseal rotates Trent's root key online: it makes a new root key
// current, re-seals every stored secret under it while servers keep
// serving, and then retires the old root key.
//
// # Procedure
//
//  1. The root key provider (a rootkey.Rotator, e.g. the PKCS#11 provider)
//     creates a new root key and makes it current.
//  2. A store record of kind "rootkey" announces the new key. Running nodes
//     see it through the change feed (Follow) and switch their provider to
//     the new key (Refresh), so new writes are sealed with it.
//  3. After a settle delay, every Resealer (the KMS domain: key materials,
//     custom key store secrets, import parameters; the principal
//     directory), the root key canary and every sealed file is re-sealed
//     under the new key, with optimistic concurrency, record by record.
//  4. Further passes run until one finds nothing left to re-seal (writes
//     made by a node that had not yet switched are caught here).
//  5. The old root key is retired: blobs sealed under it never open again.
//
// A Resealer walks its records with store.Each, rewrites each with
// store.Rewrite (compare-and-swap, re-read after a conflict), and decides
// with Stale which sealed secrets to seal again with Blob. Records is that
// pass for the Resealers whose records each hold their own sealed secrets
// (the principal directory, custom key stores, import parameters); the KMS
// core rewrites key records through its key cache instead.
//
// # Root key canary
//
// The store keeps one record (CanaryKind) sealed under the root key that
// seals it. A node checks it at start (CheckCanary) and refuses to run with
// a root key that cannot open it, naming the root key IDs it holds and the
// one the store needs (MismatchError), instead of answering every request
// with an internal error. Rotation re-seals the canary with everything
// else, so after it the store needs the new root key.
//
// # Invariants
//
//   - Nothing is retired while a pass still finds secrets sealed under the
//     old key; Rotate then returns an error and leaves the old key in place
//     (running it again is safe).
//   - Every rewrite is a compare-and-swap on the record version, so a
//     concurrent change by a server is never lost; the rewrite is retried.
//   - Plaintext secrets exist only in memory, briefly, between open and seal.
package reseal
