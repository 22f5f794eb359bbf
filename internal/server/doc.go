// Package server is Trent's HTTP front: the listener (HTTP or HTTPS), the
// request pipeline every operation goes through, health endpoints and
// graceful shutdown.
//
// # HTTP servers
//
// The listener is served by fasthttp (HTTP/1.1, keep-alive, pipelining,
// Expect: 100-continue; over TLS only HTTP/1.1 is offered), which parses a
// request and writes its answer with a fraction of net/http's allocations:
// the KMS JSON API (requests with X-Amz-Target) runs on it directly
// (serveFast). Everything else (the IAM and STS query APIs, /healthz,
// /readyz) goes to ServeHTTP, a net/http handler, through fasthttp's
// adaptor; tests drive ServeHTTP directly too. Both reach the same pipeline
// through an inbound request (sigv4.Request for the signature).
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
