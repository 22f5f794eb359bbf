// Package iam holds Trent's principals: accounts, IAM users and roles, their
// access keys and inline policies, and temporary credentials from STS. It
// answers the questions the server asks of every request: what is the
// secret of this access key (sigv4.CredentialSource), who is its principal
// (Caller), and which identity policies apply to it (IdentityPolicies).
//
// # Records
//
// Everything lives in the store as JSON records: "account" (ID), "user" and
// "role" (ACCOUNT/NAME), "userpolicy" and "rolepolicy"
// (ACCOUNT/OWNER/POLICY), "accesskey" (the key ID), "accesskeyidx"
// (ACCOUNT/OWNER/KEYID, listing a user's or the root's keys),
// "sessionidx" (EXPIRY/KEYID, for sweeping expired temporary credentials)
// "iamnamefold" (user/ACCOUNT/name or role/ACCOUNT/name, lower-cased:
// IAM names are unique without regard to case) and "iammeta" (one-time
// records: "principals", the principals file's upgrade epoch).
// Names cannot contain '/', so ID prefixes list exactly one owner's records.
//
// # Invariants
//
//   - Secret access keys are sealed by the root key (with the key ID as
//     additional data) before they are stored, are held in the clear only
//     in memory, are compared in constant time, and never appear in errors
//     or logs.
//   - Creating a key or a policy rewrites its owner's record at the version
//     read, and deleting an owner requires that version: a user or role is
//     never deleted while it has keys or policies (DeleteConflict), even
//     under concurrent writes on several nodes; a user never has more than
//     MaxAccessKeysPerUser keys.
//   - Writers of one user, role or access key queue inside a process and
//     retry with backoff across nodes (store.Update); only a record
//     contended past the retry budget fails, with ConcurrentModification.
//   - Caches (access keys, identity policies) are invalidated at once on
//     the node that writes and through the change feed (Watch) elsewhere.
//   - An account never has two users, or two roles, whose names differ only
//     in case ("boss" and "BOSS"), as in AWS.
//   - A user's or role's ARN includes its path, everywhere: the caller ARN
//     of its access keys, the resource IAM actions are authorized on.
//   - A trust policy names the users and roles that existed when it was
//     stored: Role.TrustPrincipals holds their unique IDs (PrincipalID),
//     and AssumeRole matches the caller by ARN and unique ID.
//   - The principals file changes only the users and roles it owns: those
//     it created (marked Declared in the creating write) or that the
//     operator told it to adopt. Nothing else of a declared name receives
//     its policies, trust policy or keys (ApplyPrincipals).
//   - Errors meant for clients are *awserr.Error values with the IAM/STS
//     query-protocol codes (Code* constants) and AWS's messages.
package iam
