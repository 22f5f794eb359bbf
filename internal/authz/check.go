package authz

import (
	"context"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
)

// CheckKeyPolicy validates a key policy document for CreateKey and
// PutKeyPolicy. It returns MalformedPolicyDocumentException
//
//   - with the parser's message if doc is not a valid key policy;
//   - with policy.MsgLockout ("The new key policy will not allow you to
//     update the key policy in the future.") if bypass is false and the
//     policy would not let caller call PutKeyPolicy on the key again (AWS's
//     policy lockout safety check, as lenient as AWS's: conditions are
//     assumed to hold and delegation to the caller's account counts);
//   - with policy.MsgInvalidPrincipals if the policy names an IAM user or
//     role that does not exist, when the identity source can tell
//     (PrincipalResolver).
//
// On success it returns the unique ID of each IAM user and role the policy
// names (ARN -> ID; nil without a PrincipalResolver): the key stores them
// with the policy and Prepare binds the policy to them, so that a principal
// deleted and re-created under the same name does not match, as in AWS.
// The 32 KiB size limit is checked by the service before this is called.
func (a *Authorizer) CheckKeyPolicy(ctx context.Context, doc string, caller *kms.Caller, keyARN string, bypass bool) (map[string]string, error) {
	p, err := a.cache.Parse(doc)
	if err != nil {
		return nil, err
	}
	if !bypass && caller != nil && !policy.WouldAllow(p, principalOf(caller), "kms:PutKeyPolicy") {
		return nil, awserr.New(awserr.MalformedPolicyDocument, policy.MsgLockout)
	}
	if a.resolver == nil {
		return nil, nil
	}
	var ids map[string]string
	for _, arn := range p.Principals() {
		id, _, err := a.resolver.PrincipalID(ctx, arn)
		if err != nil {
			a.log.ErrorContext(ctx, "look up principal", "principal", arn, "err", err)
			return nil, awserr.Internal()
		}
		if id == "" {
			return nil, awserr.New(awserr.MalformedPolicyDocument, policy.MsgInvalidPrincipals)
		}
		if ids == nil {
			ids = make(map[string]string)
		}
		ids[arn] = id
	}
	return ids, nil
}
