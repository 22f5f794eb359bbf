// Package policy parses AWS IAM-language policy documents (KMS key policies
// and IAM identity policies) and evaluates requests against them with AWS KMS
// semantics.
//
// # What it decides
//
// Authorize combines a key's policy, the caller's identity policies and the
// outcome of grant evaluation the way AWS KMS does:
//
//   - an explicit Deny in any policy wins over every Allow and over grants;
//   - a key policy statement that names a principal (or "*") allows it
//     directly;
//   - a key policy statement that names an account root
//     ("111122223333" or "arn:aws:iam::111122223333:root") delegates to that
//     account's IAM policies: a principal of that account is allowed only if
//     one of its identity policies also allows; the account root principal
//     itself is allowed directly;
//   - identity policies alone never grant access to a key;
//   - a principal of another account needs both the key policy and its own
//     identity policies, and only for the operations AWS permits
//     cross-account (CrossAccountAllowed);
//   - operations without a key resource (CreateKey, ListKeys, ...) are
//     decided by identity policies alone (Input.KeyPolicy == nil).
//
// # Invariants
//
//   - The package is pure: no I/O, no clock. Time-dependent conditions read
//     aws:CurrentTime from the request context.
//   - A *Policy is immutable after Parse and safe for concurrent use; parsing
//     compiles every pattern and condition so that evaluation does no
//     parsing and, for policies without variables, no allocation.
//   - A policy bound to unique IDs (Policy.Bind) and a grant with a
//     GranteeID match a named user or role only if the caller's aws:userid
//     is that ID (or ID:SESSION for a role): the check is a string
//     comparison, so binding costs the hot path nothing measurable.
//   - Condition key names are case-insensitive; action names are matched
//     case-insensitively; resources and principals case-sensitively.
//   - A condition key the request supplies twice under case folding
//     (Ambiguous: kms:EncryptionContext:dept for a context with "dept" and
//     "Dept") never helps an Allow statement match and always lets a Deny
//     statement match; grant constraints match context keys without regard
//     to case and never through a colliding key. No decision depends on
//     map iteration order.
//   - A principal of another account than the key's is refused with one
//     message (DenyCrossAccount) whatever the reason, so that a refusal
//     tells nothing about another account's key.
//   - Errors carry AWS exception names (*awserr.Error) and never include
//     request context values, which may be encryption-context data.
package policy
