// Package authz is Trent's access-control engine: it implements
// kms.Authorizer and kms.PolicyChecker over the policy language of package
// policy, with the principal directory as the source of IAM identity
// policies.
//
// # What it decides
//
// For an action on a key, the key's policy (parsed once, when the key is
// loaded, by Prepare) is combined with the caller's identity policies and
// the outcome of grant evaluation exactly as policy.Authorize describes: an
// explicit Deny anywhere wins; otherwise the key policy must allow, directly
// or by delegating to the caller's account (whose IAM policies must then
// allow too), or a grant must allow. A principal of another account needs
// both the key policy and its own identity policies, and only for the
// operations AWS KMS allows across accounts. Actions without a key resource
// are decided by identity policies alone; an account's root principal is
// always allowed them.
//
// The request context a policy's conditions see is assembled per request:
// the kms:* keys the domain passes, plus aws:SourceIp, aws:SecureTransport,
// aws:CurrentTime and aws:EpochTime (from the service clock),
// aws:RequestedRegion, aws:ResourceTag/*, kms:KeySpec and the other key
// properties, and kms:ResourceAliases, which is loaded only if a policy
// asks for it.
//
// # Invariants
//
//   - Evaluation of a parsed policy does no parsing; identity policies are
//     parsed once per distinct document (policy.Cache).
//   - A key whose policy cannot be evaluated (none was prepared) is denied
//     to everyone: the engine fails closed.
//   - Denials are *awserr.Error values with code AccessDeniedException and
//     AWS's message forms; they name the principal, the action and the
//     resource, never condition values (which may be encryption context).
//   - Failures to read identity policies are logged and surface as
//     KMSInternalException, never as an allow.
package authz
