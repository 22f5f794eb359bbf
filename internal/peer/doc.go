// Package peer carries multi-Region replication between Trent deployments
// over HTTP(S): the handler that receives a peer's signed messages (a
// protocol beside the KMS JSON API, chosen by its X-Amz-Target prefix),
// the client that sends this deployment's (replica.Transport), and the
// Prometheus collector of replication's state.
//
// # Contract
//
//   - A message is accepted only if it is signed by the Ed25519 key that
//     this deployment's configuration declares for the Region it claims to
//     come from, is addressed to this Region, is within replica.Window of
//     this node's clock and was not seen before (replica.Receive). Anything
//     else is answered AccessDeniedException without detail, after one
//     signature check at most, and counted and recorded by the failed
//     authentication limiter (authfail), whose budget throttles a source
//     that keeps failing before its signature is even checked.
//   - The answer is signed by this deployment, so the sender knows which
//     peer applied its message; a sender trusts no answer that is not.
//   - Key material crosses only age-encrypted to the receiver's hybrid
//     ML-KEM-768 + X25519 key (replica.Message); TLS, when the endpoint is
//     https, protects the rest (key IDs, configuration) in transit.
package peer
