package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
)

// PrincipalID resolves a principal ARN the way AWS does when it stores a
// policy or a grant that names it, so that the policy keeps naming that
// principal and not a later one of the same name:
//
//   - an IAM user or role ARN (arn:PARTITION:iam::ACCOUNT:user/PATH/NAME,
//     ...:role/PATH/NAME) resolves to the unique ID of the user or role
//     with exactly that ARN, path included;
//   - a role session ARN (arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/
//     SESSION) resolves to the unique ID of its role.
//
// id is "" if no such principal exists. bindable is false for every other
// principal (account roots and IDs, services, anything else), which is not
// resolved. Errors are store failures.
func (d *Directory) PrincipalID(ctx context.Context, principal string) (id string, bindable bool, err error) {
	a, ok := arn.Parse(principal)
	if !ok || a.Region != "" {
		return "", false, nil
	}
	account, res := a.Account, a.Resource
	var kind, name, path string
	switch {
	case a.Service == "iam" && (strings.HasPrefix(res, "user/") || strings.HasPrefix(res, "role/")):
		kind = KindUser
		if res[0] == 'r' {
			kind = KindRole
		}
		rest := res[5:]
		i := strings.LastIndexByte(rest, '/')
		path, name = "/"+rest[:i+1], rest[i+1:]
	case a.Service == "sts" && strings.HasPrefix(res, "assumed-role/"):
		role, session, ok := strings.Cut(res[len("assumed-role/"):], "/")
		if !ok || session == "" {
			return "", true, nil
		}
		kind, name = KindRole, role
	default:
		return "", false, nil
	}
	if a.Partition != d.partition || !arn.ValidAccountID(account) || validName(name, "name", 64) != nil {
		return "", true, nil
	}
	var ent struct {
		UserID string `json:"userId"`
		RoleID string `json:"roleId"`
		Path   string `json:"path"`
	}
	_, err = d.getJSON(ctx, kind, account+"/"+name, &ent)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", true, nil
	case err != nil:
		return "", true, err
	}
	if path != "" && ent.Path != path {
		return "", true, nil
	}
	return ent.UserID + ent.RoleID, true, nil
}

// bindTrust resolves the IAM users and roles a trust policy names to their
// unique IDs (ARN -> ID), for AssumeRole to match the caller by both. A
// principal that does not exist is refused as IAM refuses it.
func (d *Directory) bindTrust(ctx context.Context, p *policy.Policy) (map[string]string, error) {
	var ids map[string]string
	for _, arn := range p.Principals() {
		id, _, err := d.PrincipalID(ctx, arn)
		if err != nil {
			return nil, err
		}
		if id == "" {
			return nil, awserr.Newf(CodeMalformedPolicyDocument, "Invalid principal in policy: %q:%q", "AWS", arn)
		}
		if ids == nil {
			ids = make(map[string]string)
		}
		ids[arn] = id
	}
	return ids, nil
}

// TrustPolicyView returns a role's trust policy as GetRole shows it: as
// stored, except that a user or role it names that no longer exists (or
// was re-created, with a new unique ID) is shown as the unique ID the
// policy was bound to, as AWS shows it. Errors are store failures.
func (d *Directory) TrustPolicyView(ctx context.Context, r *Role) (string, error) {
	return d.renderBound(ctx, r.TrustPolicy, r.TrustPrincipals)
}

// renderBound renders doc, bound by ids, with RenderPrincipals.
func (d *Directory) renderBound(ctx context.Context, doc string, ids map[string]string) (string, error) {
	var gone map[string]string
	for arn, id := range ids {
		cur, _, err := d.PrincipalID(ctx, arn)
		if err != nil {
			return "", fmt.Errorf("iam: resolve %s: %w", arn, err)
		}
		if cur != id {
			if gone == nil {
				gone = make(map[string]string)
			}
			gone[arn] = id
		}
	}
	return policy.RenderPrincipals(doc, gone), nil
}

// ErrTargetChanged is returned by the Directory methods that act on a user
// or role when the context names it (WithTarget) and it is no longer the
// user or role the request was authorized on: it was created, or deleted
// and re-created (perhaps under another path), in between. The caller
// authorizes the request again, on the target's ARN as it is now, and
// retries; nothing was written.
var ErrTargetChanged = errors.New("iam: the user or role changed after the request was authorized")

type targetKey struct{}

type target struct{ kind, account, name, id string }

// WithTarget returns ctx naming the user (kind KindUser) or role (KindRole)
// an IAM request was authorized on, with the unique ID it had then ("" if
// it did not exist). IAM actions are authorized on the target's ARN, path
// included; this makes the action fail with ErrTargetChanged rather than
// act on a different principal of the same name, which the authorization
// did not cover.
func WithTarget(ctx context.Context, kind, account, name, id string) context.Context {
	return context.WithValue(ctx, targetKey{}, &target{kind, account, name, id})
}

// checkTarget returns ErrTargetChanged if ctx names the existing user or
// role (kind, account, name) with another unique ID than id; idOf is
// called only then, to read the ID.
func checkTarget(ctx context.Context, kind, account, name string, idOf func() string) error {
	t, _ := ctx.Value(targetKey{}).(*target)
	if t == nil || t.kind != kind || t.account != account || t.name != name {
		return nil
	}
	if idOf() != t.id {
		return ErrTargetChanged
	}
	return nil
}
