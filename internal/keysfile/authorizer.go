package keysfile

import (
	"context"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
)

// authorizer lets the keys file's own callers (pointers Apply made, which
// no request can carry) do what the file declares, whatever the key
// policies say, and hands every other question to inner.
type authorizer struct {
	inner   kms.Authorizer
	callers map[*kms.Caller]bool
}

func (a *authorizer) Prepare(doc string, principals map[string]string) *policy.Policy {
	return a.inner.Prepare(doc, principals)
}

func (a *authorizer) AuthorizeKey(ctx context.Context, r *kms.KeyRequest) error {
	if a.callers[r.Caller] {
		return nil
	}
	return a.inner.AuthorizeKey(ctx, r)
}

func (a *authorizer) AuthorizeAccount(ctx context.Context, r *kms.AccountRequest) error {
	if a.callers[r.Caller] {
		return nil
	}
	return a.inner.AuthorizeAccount(ctx, r)
}

// CheckKeyPolicy validates a declared policy and binds its principals; the
// lockout check is the file's author's business (it can always change the
// policy back).
func (a *authorizer) CheckKeyPolicy(ctx context.Context, doc string, caller *kms.Caller, keyARN string, _ bool) (map[string]string, error) {
	if pc, ok := a.inner.(kms.PolicyChecker); ok {
		return pc.CheckKeyPolicy(ctx, doc, caller, keyARN, true)
	}
	return nil, nil
}

func (a *authorizer) PrincipalID(ctx context.Context, arn string) (string, bool, error) {
	if r, ok := a.inner.(kms.PrincipalResolver); ok {
		return r.PrincipalID(ctx, arn)
	}
	return "", false, nil
}
