// Package replica is the multi-Region key concern: ReplicateKey and
// UpdatePrimaryRegion, the outbox of key states to send to the other
// Regions, and what another Region sends. It is built over a *kms.Service
// and registers with it (kms.Replication, its job action), as the other
// concerns do; it reaches other deployments only through a Transport
// (package peer over HTTP(S); Router in-process for the Regions of one
// store). docs/multi-region.md is the operator's view.
//
// # Invariants
//
//   - Key material leaves this package only age-encrypted to the
//     receiving deployment's hybrid ML-KEM-768 + X25519 key, bound to its
//     key ID and material ID; the receiver seals it under its own root
//     key at once. Imported material never leaves.
//   - A message is applied only if it is signed by the Ed25519 key of the
//     declared peer it names, addressed to this Region, within Window of
//     this clock and not seen before; the answer is signed in turn, and a
//     sender trusts no other answer.
//   - A peer acts only on multi-Region keys whose primary is in its own
//     Region (as this Region knows it), of the account the key has here.
//   - A change is sent by an outbox record written in the same atomic
//     write as the change itself, and removed only when the receiver
//     answers that it applied it: deliveries are retried with backoff,
//     survive restarts, and are idempotent (each message carries the
//     sender's whole state of the key and its configuration epoch).
//   - Replication runs beside the request path: a Region that is down
//     never blocks another's data plane.
package replica
