// Package arn splits Amazon Resource Names,
// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE: key ARNs in KMS requests
// and audit records, principal ARNs in policies, grants and trust
// policies, role ARNs in AssumeRole. It also knows the two facts about
// ARN fields that several packages need: what an account ID looks like
// and which partition a Region is in.
//
// # Invariants
//
//   - Splitting never allocates: the fields are substrings of the ARN, so
//     it can run on the request path (TestNoAllocations; BenchmarkParse).
//   - The resource is everything after the fifth colon: it may hold colons
//     and slashes of its own.
//   - Splitting validates nothing but the shape. A field may be empty (IAM
//     ARNs have no region); what a field may hold (a 12-digit account, a
//     known partition) is the caller's rule, because the callers' rules
//     differ. Parse, Split and Field differ only in what they ask of the
//     shape (FuzzParse holds all three to strings.SplitN).
package arn
