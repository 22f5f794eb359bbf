// Package pipeline is the request pipeline every protocol's requests pass
// through, written once: admission (the failure budget of package
// authfail, and the audit trail's refusal while it cannot record),
// operation lookup and body limit, SigV4 verification, the caller,
// execution under the operation's deadline, the mapping of errors to the
// protocol's wire form, the audit record, and the record of requests that
// fail before their caller is known.
//
// A protocol contributes only its codec: a Codec is one request in the
// protocol's terms (how it names its operation, reads and decodes its
// body, runs the operation, describes itself for the audit trail), with
// the pipeline's Call inside it. The KMS JSON 1.1 API (internal/server)
// and the IAM and STS query APIs (internal/iamapi) are the codecs today.
// The pipeline knows no HTTP server: a Request reaches it through
// sigv4.Request, which net/http and fasthttp requests both implement, and
// the codec writes the answer the pipeline leaves in the Call.
//
// # Order
//
// Serve runs, for one request: Open (what the protocol checks before
// anything else: the query APIs read their body here), the failure budget
// (a source past it is answered with Errors.Throttled unverified, its
// operation named by Peek for the record), the trail's refusal, Lookup
// (the operation, and the body within its limit), verification, the
// caller, Run under the deadline, then the audit record and Finish. A
// request that ends before its caller is known is recorded by the failure
// limiter instead, never with its body. The query APIs check the trail's
// refusal before Open (Pipeline.TrailFirst), as they always have.
//
// # Cost
//
// Serve allocates nothing of its own per request: the Call lives in the
// codec's per-request state, the codec is an interface over a pointer,
// and the deadline context is built only if the operation waits on its
// Done channel (see Deadline).
package pipeline
