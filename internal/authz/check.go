package authz

import (
	"context"
	"encoding/json"
	"strings"

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
//     role that does not exist, when the identity source can tell.
//
// The 32 KiB size limit is checked by the service before this is called.
func (a *Authorizer) CheckKeyPolicy(ctx context.Context, doc string, caller *kms.Caller, keyARN string, bypass bool) error {
	p, err := a.cache.Parse(doc)
	if err != nil {
		return err
	}
	if !bypass && caller != nil && !policy.WouldAllow(p, principalOf(caller), "kms:PutKeyPolicy") {
		return awserr.New(awserr.MalformedPolicyDocument, policy.MsgLockout)
	}
	if a.resolver != nil {
		for _, arn := range namedPrincipals(doc) {
			if !strings.Contains(arn, ":user/") && !strings.Contains(arn, ":role/") {
				continue
			}
			ok, err := a.resolver.PrincipalExists(ctx, arn)
			if err != nil {
				a.log.ErrorContext(ctx, "look up principal", "principal", arn, "err", err)
				return awserr.Internal()
			}
			if !ok {
				return awserr.New(awserr.MalformedPolicyDocument, policy.MsgInvalidPrincipals)
			}
		}
	}
	return nil
}

// namedPrincipals returns the AWS principals (ARNs and account IDs) that
// the Principal and NotPrincipal elements of a parsed-valid policy name.
func namedPrincipals(doc string) []string {
	var top struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &top) != nil {
		return nil
	}
	var stmts []map[string]json.RawMessage
	if json.Unmarshal(top.Statement, &stmts) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(top.Statement, &one) != nil {
			return nil
		}
		stmts = []map[string]json.RawMessage{one}
	}
	var out []string
	for _, s := range stmts {
		for _, k := range []string{"Principal", "NotPrincipal"} {
			var m map[string]json.RawMessage
			if json.Unmarshal(s[k], &m) != nil {
				continue
			}
			raw := m["AWS"]
			var one string
			if json.Unmarshal(raw, &one) == nil {
				out = append(out, one)
				continue
			}
			var many []string
			if json.Unmarshal(raw, &many) == nil {
				out = append(out, many...)
			}
		}
	}
	return out
}
