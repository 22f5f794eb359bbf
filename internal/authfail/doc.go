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
// verifying them unless they name an access key it has in use, or
// AllowLookup grants the lookup of another key.
//
// # Lookups of keys not in use
//
// Verifying a request whose access key the node does not have in use costs
// a store lookup (a PostgreSQL round trip in cluster mode), and a request
// can name any key, from any address: the budget must hold for the node,
// not per address. Failures whose key was looked up and not found
// (Failure.UnknownKey) spend the node's lookup budget (Config.LookupRate a
// second after a burst of LookupBurst: 100 and 200 by default). When it is
// spent the node is in flood mode until no lookup has missed for a minute;
// then Limited reports every source, and AllowLookup grants a lookup of a
// key not in use:
//
//   - to a source with no verified failure within Config.Retention (10
//     minutes; a client new to the node, say) once a second, free;
//   - to a suspect source (one with such a failure, or any source beyond
//     the MaxTracked tracked, 65,536 by default) once a second per tracked
//     source and only while the budget lasts;
//   - never for a key whose lookup missed in the last 5 to 10 seconds (at
//     most 8,192 keys remembered): a made-up key repeated costs nothing.
//
// A request refused unverified takes a token but does not make its source
// suspect. So a flood of made-up access keys from any number of addresses
// costs at most LookupBurst + LookupRate × t lookups, plus one for each
// address that becomes tracked (at most MaxTracked per Retention, each
// kept that long after its last failure: 65,536 per 10 minutes, 109 a
// second, by default), plus the requests in flight when flood mode begins
// (at most once a minute: it lasts until a minute passes without a miss).
// With the defaults: at most about 210 lookups a second once flood mode
// holds, after a first burst of at most 200 plus one per flooding address.
//
// A client new to the node, from an address that has not failed, gets its
// first lookup at once, in flood mode too, as long as the flood comes from
// fewer addresses than are tracked. A client at a suspect address (one
// that failed within 10 minutes, shares an IPv6 /64 or a NAT address with
// the flood, or is beyond the tracked during a flood from more addresses)
// competes with the flood for the budget: each of its attempts gets a
// lookup while the budget has one, a share of about LookupRate over the
// flood's rate of such requests; AWS SDKs retry the throttling error with
// backoff, but may give up. A client whose key the node has in use is
// never affected.
//
// # Invariants
//
//   - A source is an IPv4 address or an IPv6 /64 prefix (SourceKey).
//   - Memory is bounded: at most MaxTracked sources have a bucket (about
//     150 bytes each, 10 MB for 65,536); further sources share one, are
//     suspect, and are summarized together. At most MaxSources sources
//     (1,000) have records of their own; failures from further sources
//     share one overflow summary. Idle buckets and entries are dropped.
//     Failures write at most 2 × (MaxSources + 1) records per interval,
//     each under 2 KiB.
//   - Signed requests that authenticate never reach this package; the only
//     cost on their path is Limited's atomic load while no source is
//     limited and the node is not in flood mode (about 100 ns and the
//     Limiter's lock then).
package authfail
