// Package logs builds Trent's structured logger (log/slog, as text or JSON
// lines) and carries a request's ID to every line logged about it.
//
// # Request IDs
//
// The request pipeline's per-request context answers RequestIDKey with the
// request's ID (pipeline.Deadline), at no cost to a request that logs
// nothing. A Handler adds that ID as the "requestId" attribute to every
// record logged with that context (slog's ...Context methods), so a domain
// package that logs with the context it was given needs to know nothing of
// requests. Lines logged with the ID as an explicit "requestId" attribute
// keep theirs; no line carries it twice.
//
// # Secrets
//
// A logger carries what its callers give it: Trent logs no plaintext, key
// material, secret access key or encryption context value, in either
// format. The handler adds nothing but the request ID.
package logs
