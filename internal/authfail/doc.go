// Package authfail limits what requests that fail before their caller is
// authenticated can cost: requests that are unsigned, badly signed, signed
// with an unknown or expired access key, name an unknown operation, or are
// refused for their size. Anyone who can reach the port can send them, so
// neither their rate nor their content may decide how much the server
// works or how much the audit trail grows.
//
// # Records
//
// A failed request's audit record keeps what CloudTrail keeps for a failed
// call (event name, error code and message, source address, user agent,
// access key ID, request ID) within fixed sizes (see the Max constants),
// never the request body or its parameters. Per source address, the first
// failure of an aggregation interval is recorded on its own, durable before
// the answer as every record is; the failures that follow within the
// interval are counted and summarized by one aggregated record when the
// interval ends (docs/audit.md describes its shape). The summarized
// requests are answered before their summary is durable: a crash loses at
// most one interval's counts of requests that had no effect.
//
// # Rate limit
//
// Each source address has a token bucket: a failure takes a token, and a
// failure that finds none is answered with the protocol's throttling error
// instead of its own. While a source's bucket is empty, Limited reports it,
// and the server answers its requests with the throttling error before
// verifying them unless they name an access key it has in use (or
// AllowLookup grants the once-a-second lookup of another key), so that a
// flood of made-up access keys costs almost no store lookups and a
// legitimate client behind the same address keeps working.
//
// # Invariants
//
//   - A source is an IPv4 address or an IPv6 /64 prefix (SourceKey).
//   - Memory and records are bounded: at most MaxSources sources are
//     tracked; failures from further sources share one overflow entry,
//     limited and summarized together. Idle entries are dropped. Failures
//     write at most 2 × (MaxSources + 1) records per interval, each under
//     2 KiB.
//   - Signed requests that authenticate never reach this package; the only
//     cost on their path is Limited's atomic load while no source is
//     limited.
package authfail
