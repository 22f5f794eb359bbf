// Package bench is the closed-loop load generator behind "trent bench": a
// fixed number of workers each send one AWS KMS JSON 1.1 request at a time
// to an endpoint (Trent, AWS, an emulator) and record its latency.
//
// # Design
//
// The client must cost little CPU so that, on a small machine, the server
// and not the load generator is measured. Requests are signed with
// internal/sigv4 (no SDK in the loop); request bodies are built once per
// operation during setup; every worker reuses its buffers and keeps its own
// latency histogram, merged at the end; the HTTP transport keeps at least
// one idle connection per worker.
//
// # Invariants
//
//   - Latency histograms use bounded memory (a fixed array of log-linear
//     buckets, relative error below 1.6%) whatever the number of requests.
//   - Errors are counted by AWS exception name (the "__type" of the response,
//     without any "namespace#" prefix); transport failures count as
//     "NetworkError", undecodable error responses as "HTTP<status>".
//   - Secrets are never printed; the result carries no credentials.
package bench
