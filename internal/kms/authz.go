package kms

import (
	"context"
	"strings"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/policy"
)

// Authorizer decides whether a caller may perform an action. The kms package
// gathers the facts (key policy, grants, request context); the Authorizer
// applies the policy language.
type Authorizer interface {
	// Prepare parses a key policy document once, when a key is loaded, and
	// binds the principals it names to the unique IDs in principals (what
	// PolicyChecker.CheckKeyPolicy returned when the policy was stored). The
	// result is handed back in KeyRequest.Policy. It must not fail: a policy
	// that cannot be parsed was refused when it was stored, and one that
	// does not parse now (corruption) must yield a policy that allows
	// nothing.
	Prepare(doc string, principals map[string]string) *policy.Policy
	// AuthorizeKey decides an action on a key. It returns nil or an
	// *awserr.Error (AccessDeniedException).
	AuthorizeKey(ctx context.Context, req *KeyRequest) error
	// AuthorizeAccount decides an action that has no key resource
	// (CreateKey, ListKeys, ListAliases, GenerateRandom, custom key stores).
	AuthorizeAccount(ctx context.Context, req *AccountRequest) error
}

// PrincipalResolver is an optional capability of an Authorizer: it resolves
// a principal ARN to the unique ID of the principal it names now, as AWS
// does when it stores a grant. For an IAM user or role ARN, or a role
// session ARN (resolved to its role), id is that principal's unique ID, or
// "" if none exists; bindable is false for principals that are not
// resolved (account roots, services, anything else). Errors are failures to
// read the directory. Without it grants are matched by ARN alone.
type PrincipalResolver interface {
	PrincipalID(ctx context.Context, arn string) (id string, bindable bool, err error)
}

// Resolver returns the authorizer's PrincipalResolver, or nil if it has
// none (principals are then not bound to unique IDs).
func (s *Service) Resolver() PrincipalResolver {
	r, _ := s.authz.(PrincipalResolver)
	return r
}

// KeyRequest is an authorization question about a key.
type KeyRequest struct {
	Caller     *Caller
	Action     string // "kms:Encrypt"
	KeyARN     string
	KeyAccount string
	// Policy is the key policy as the Authorizer's Prepare returned it; nil
	// (no policy prepared) allows nothing.
	Policy      *policy.Policy
	KeySpec     string
	KeyUsage    string
	KeyOrigin   string
	MultiRegion bool
	Tags        map[string]string
	// Aliases returns the key's alias names (sorted; the caller must not
	// modify them). It is called only if a policy asks. An error means the
	// names could not be read: the authorizer must then refuse the request
	// with that error, never evaluate as if the key had no aliases.
	Aliases func() ([]string, error)
	// Conditions holds request-specific condition keys and values
	// (kms:EncryptionContext:dept, kms:EncryptionAlgorithm, kms:RequestAlias,
	// aws:RequestTag/..., aws:TagKeys, ...). Keys are lower-case.
	Conditions map[string][]string
	// GrantAllows reports whether a grant authorizes the request.
	GrantAllows bool
}

// AccountRequest is an authorization question that identity policies alone
// decide: an account-level action (resource "*"), or the alias half of an
// alias operation (resource the alias ARN).
type AccountRequest struct {
	Caller *Caller
	Action string
	// Resource is the ARN the action is authorized on; "" means "*".
	// CreateAlias, UpdateAlias and DeleteAlias name the alias, as AWS
	// authorizes them: an identity policy must allow the action on the
	// alias ARN (and the key policy on the key, see KeyRequest).
	Resource   string
	Conditions map[string][]string
}

// defaultAuthorizer lets a principal act on the keys of its own account. It
// is what a Service uses until SetAuthorizer installs the policy engine.
type defaultAuthorizer struct{}

func (defaultAuthorizer) Prepare(string, map[string]string) *policy.Policy { return nil }

func (defaultAuthorizer) AuthorizeKey(_ context.Context, r *KeyRequest) error {
	if r.Caller.Account == r.KeyAccount || r.GrantAllows {
		return nil
	}
	return awserr.Newf(awserr.AccessDenied, "User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action", r.Caller.ARN, r.Action, r.KeyARN, r.Action)
}

func (defaultAuthorizer) AuthorizeAccount(context.Context, *AccountRequest) error { return nil }

// keyRequest is the authorization question of action on lk by the caller in
// ctx, with request-specific conditions conds.
func (s *Service) keyRequest(ctx context.Context, lk *Key, action string, conds map[string][]string) *KeyRequest {
	req := &KeyRequest{
		Caller: CallerFrom(ctx), Action: action, KeyARN: lk.arn, KeyAccount: lk.doc.Account,
		Policy: lk.policy, KeySpec: lk.doc.Spec, KeyUsage: lk.doc.Usage, KeyOrigin: lk.doc.Origin,
		MultiRegion: lk.doc.MultiRegion, Conditions: conds,
	}
	if len(lk.doc.Tags) > 0 {
		req.Tags = make(map[string]string, len(lk.doc.Tags))
		for _, t := range lk.doc.Tags {
			req.Tags[t.Key] = t.Value
		}
	}
	req.Aliases = func() ([]string, error) { return s.aliasNamesOf(ctx, lk.doc.ID) }
	return req
}

// authorizeKey asks the authorizer whether the caller may perform action on
// lk, given request-specific conditions and grant tokens.
func (s *Service) authorizeKey(ctx context.Context, lk *Key, action string, conds map[string][]string, grantTokens []string) error {
	err := s.authorizeKeyOnce(ctx, lk, action, conds, grantTokens)
	if err == nil {
		noteAllowed(ctx, lk)
	}
	return err
}

func (s *Service) authorizeKeyOnce(ctx context.Context, lk *Key, action string, conds map[string][]string, grantTokens []string) error {
	req := s.keyRequest(ctx, lk, action, conds)
	caller := req.Caller
	// Grant tokens are checked on every request, as AWS does, but grants
	// are consulted only when the policies alone do not allow: the common
	// case costs no grant lookup, and the audit trail names a grant only
	// when one authorized the call. Asking again with GrantAllows keeps
	// explicit denies winning over grants.
	if len(grantTokens) > 0 {
		if err := s.grants.CheckTokens(grantTokens); err != nil {
			if caller != nil && caller.Account != lk.doc.Account {
				// A refused token would tell another account that the key
				// exists: unless the key's policies allow that account, it
				// gets the denial a missing key gets.
				if aerr := s.authz.AuthorizeKey(ctx, req); aerr != nil {
					return aerr
				}
			}
			return err
		}
	}
	err := s.authz.AuthorizeKey(ctx, req)
	if awserr.CodeOf(err) != awserr.AccessDenied {
		return err
	}
	id, gerr := s.grants.Allowing(ctx, lk, action, conds, grantTokens)
	if gerr != nil {
		return gerr
	}
	if id == "" {
		return err
	}
	NoteGrant(ctx, id)
	req.GrantAllows = true
	return s.authz.AuthorizeKey(ctx, req)
}

// AuthorizeKeyWithGrant asks the authorizer whether the caller may perform
// action on k with conds, the grant decision being the caller's: whether a
// grant allows it (CreateGrant and RetireGrant decide that themselves).
func (s *Service) AuthorizeKeyWithGrant(ctx context.Context, k *Key, action string, conds map[string][]string, grantAllows bool) error {
	req := s.keyRequest(ctx, k, action, conds)
	req.GrantAllows = grantAllows
	err := s.authz.AuthorizeKey(ctx, req)
	if err == nil {
		noteAllowed(ctx, k)
	}
	return err
}

// AuthorizeAccount asks whether the caller may perform an account action.
func (s *Service) AuthorizeAccount(ctx context.Context, action string, conds map[string][]string) error {
	return s.authz.AuthorizeAccount(ctx, &AccountRequest{Caller: CallerFrom(ctx), Action: action, Conditions: conds})
}

// authorizeAlias asks whether the caller's identity policies allow action
// on the alias ARN of name in the caller's account: the IAM half of
// CreateAlias, UpdateAlias and DeleteAlias, which AWS authorizes on the
// alias resource (so that a Deny on arn:...:alias/prod/* holds).
func (s *Service) authorizeAlias(ctx context.Context, action, name string, conds map[string][]string) error {
	c := CallerFrom(ctx)
	return s.authz.AuthorizeAccount(ctx, &AccountRequest{Caller: c, Action: action,
		Resource: s.aliasARN(c.Account, name), Conditions: conds})
}

// ContextConditions returns the kms:EncryptionContext* condition keys for
// ec. Condition key names are case-insensitive (lowercased here as the
// policy engine lowercases the names in policies), but encryption-context
// keys are not: two context keys that differ only in case ("dept" and
// "Dept") give kms:EncryptionContext:dept no single value, so it is set to
// policy.Ambiguous, which no Allow condition accepts and every Deny
// condition does, whatever the order in which the map yields the keys.
// kms:EncryptionContextKeys lists the keys as sent.
func ContextConditions(conds map[string][]string, ec map[string]string) map[string][]string {
	if conds == nil {
		conds = make(map[string][]string, len(ec)+2)
	}
	if len(ec) > 0 {
		keys := make([]string, 0, len(ec))
		for k, v := range ec {
			name := "kms:encryptioncontext:" + strings.ToLower(k)
			n := len(conds)
			conds[name] = []string{v}
			if len(conds) == n {
				// The name was already set by another key of ec: a
				// collision under case folding.
				conds[name] = policy.Ambiguous()
			}
			keys = append(keys, k)
		}
		conds["kms:encryptioncontextkeys"] = keys
	}
	return conds
}
