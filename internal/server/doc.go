// Package server is Trent's HTTP front: the listener (HTTP or HTTPS), the
// request pipeline every operation goes through, health endpoints and
// graceful shutdown.
//
// # Pipeline
//
// Every POST / request: request ID → body size limit (per operation, from the
// api table) → operation lookup (X-Amz-Target) → SigV4 verification → caller
// identity → domain call (which authorizes) → audit record, durable before
// the answer (fail closed: if the record cannot be written the client gets
// KMSInternalException) → response. Errors a client caused are answered with
// AWS's exception; anything else is logged with the request ID and answered
// with KMSInternalException, never with a dropped connection.
package server
