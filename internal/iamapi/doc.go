// Package iamapi serves the subset of the AWS IAM and STS query APIs that
// Trent implements, on the same endpoint as KMS: form-encoded POST requests
// with Action=..., without X-Amz-Target, answered with AWS's XML documents
// and XML errors, so that `aws iam`, `aws sts`, boto3 and the AWS SDKs work
// unchanged.
//
// # Pipeline
//
// Every request goes through the request pipeline (package pipeline) with
// this package's query codec (handler.go): it is decoded (body at most
// MaxBody, at most MaxParams parameters; a source past its failure budget
// is refused before its form is parsed), matched against the operation
// table, authenticated with SigV4 for its service (iam, signed
// for us-east-1 or the server's region; sts, signed for the server's region
// or us-east-1), authorized (the account root may do everything in its own
// account; other principals need an identity policy allowing the iam:
// action; AssumeRole is decided by the role's trust policy and the caller's
// identity policies; GetCallerIdentity needs no permission), run against
// iam.Directory under its deadline, recorded and encoded.
//
// # Invariants
//
//   - Every principal acts only on its own account's users and roles.
//   - Secret access keys and session tokens appear only in the response of
//     the call that creates them: never in errors, logs or audit records.
//   - When an audit log is configured, the record of a call is durable
//     before the answer is sent; if it cannot be written the call fails
//     with ServiceFailure. A request that fails before its caller is
//     authenticated (unsigned, badly signed, unknown key, unknown action,
//     body too large) is handed to the authfail.Limiter the KMS API shares:
//     a small fixed-size record, summarized per source address, and
//     Throttling ("Rate exceeded") past the source's budget.
//   - Errors are *awserr.Error values with AWS's query-protocol codes
//     (NoSuchEntity, EntityAlreadyExists, DeleteConflict, LimitExceeded,
//     MalformedPolicyDocument, ValidationError, AccessDenied,
//     InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken) and 4xx
//     statuses; internal failures are logged and answered ServiceFailure.
package iamapi
