// Package server is Trent's HTTP front: the listener (HTTP or HTTPS), the
// KMS JSON codec of the request pipeline (package pipeline) every
// operation goes through, health endpoints and graceful shutdown.
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
// (pipeline.Pipeline.Serve) with a pipeline.Request (sigv4.Request for the
// signature) and the KMS codec (call, over the operations table of package
// api).
//
// # Certificates
//
// Over HTTPS the certificate is Certs' (certs.go): taken at each handshake
// from an atomic pointer, replaced when its files change (Watch) or on
// request (Reload, on SIGHUP), so a rotated certificate needs no restart.
// A connection keeps the certificate it was opened with; a pair that cannot
// be loaded replaces nothing.
//
// # Connections
//
// The listener is wrapped (conn.go) so that no client can exhaust the
// process: a failed accept (EMFILE, ENFILE, ECONNABORTED, ...) is counted,
// logged at a bounded rate and retried with backoff, never returned to
// fasthttp (which would stop serving); connections are counted against a
// limit derived from RLIMIT_NOFILE and a per-client-address cap, and over
// them another connection not being acted on is closed (the oldest idle
// one, or one stuck reading a request or writing an answer, so that a few
// addresses cannot hold the limit against a client holding none: see
// Limits.MaxConns) or the new one refused at once; a connection that does
// not deliver a request within Limits.ReadTimeout (from accept, TLS
// handshake included, or from a request's first byte) is closed. The
// bookkeeping is per connection and per state change (three atomic stores
// per request, from fasthttp's ConnState hook and the handler), never a lock
// or a deadline per request: the 60 s deadlines stay the same request after
// request, which coarseConn turns into about one timer update a second.
//
// # Pipeline
//
// Every POST / request: body size limit (per operation, from the api table,
// applied from the headers before the body is read: bodyLimit) → request ID
// → failure budget of the source address (authfail) → operation lookup
// (X-Amz-Target) → SigV4 verification → caller identity → domain call (which
// authorizes) → audit record, durable before the answer (fail closed: if the
// record cannot be written the client gets KMSInternalException) → response.
// A request that fails before its caller is authenticated goes to the
// authfail.Limiter instead of the audit step: a small fixed-size record,
// summarized per source and interval, and ThrottlingException past the
// source's budget. Errors a client caused are answered with AWS's exception;
// anything else is logged with the request ID and answered with
// KMSInternalException, never with a dropped connection.
package server
