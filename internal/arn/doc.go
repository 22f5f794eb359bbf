// Package arn splits Amazon Resource Names,
// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, for every package that reads
// one: key ARNs in KMS requests and audit records, principal ARNs in
// policies, grants and trust policies, role ARNs in AssumeRole.
//
// # Invariants
//
//   - Splitting never allocates: the fields are substrings of the ARN, so
//     it can run on the request path (Parse, Split and Field are measured
//     by BenchmarkParse at 0 allocations).
//   - The resource is everything after the fifth colon: it may hold colons
//     and slashes of its own.
//   - Splitting validates nothing but the shape. A field may be empty (IAM
//     ARNs have no region); what a field may hold (a 12-digit account, a
//     known partition) is the caller's rule, because the callers' rules
//     differ.
package arn
