package authz

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
)

// IdentitySource supplies the IAM identity policy documents of a caller.
// *iam.Directory implements it.
type IdentitySource interface {
	// IdentityPolicies returns the caller's identity policy documents (the
	// inline and attached policies of a user, or of the role behind an
	// assumed-role session). The account root has none. An error means the
	// policies could not be read; the request is then refused.
	IdentityPolicies(ctx context.Context, caller *kms.Caller) ([]string, error)
}

// PrincipalResolver is an optional capability of an IdentitySource
// (*iam.Directory implements it): it resolves a principal ARN to the unique
// ID of the principal it names now, as AWS does when it stores a policy or
// grant. id is "" when an IAM user, role or role session ARN names no
// existing principal; bindable is false for principals that are not
// resolved (account roots, services). When the source implements it,
// CheckKeyPolicy refuses key policies that name users or roles which do not
// exist and binds the others to their unique IDs, and the Authorizer
// resolves grant principals for kms (kms.PrincipalResolver).
type PrincipalResolver interface {
	PrincipalID(ctx context.Context, arn string) (id string, bindable bool, err error)
}

// Config configures an Authorizer.
type Config struct {
	// Identities supplies identity policies. Nil means no principal has
	// any (only key policies and grants can allow).
	Identities IdentitySource
	// Now is the clock for aws:CurrentTime and aws:EpochTime (default
	// time.Now). Pass the service's clock.
	Now func() time.Time
	// CacheSize bounds the number of distinct parsed policies kept
	// (default 10,000).
	CacheSize int
	// Logger receives failures to read identity policies.
	Logger *slog.Logger
}

// Authorizer implements kms.Authorizer and kms.PolicyChecker. It is safe
// for concurrent use.
type Authorizer struct {
	ids      IdentitySource
	resolver PrincipalResolver
	now      func() time.Time
	cache    *policy.Cache
	log      *slog.Logger
	pool     sync.Pool // *state
}

var (
	_ kms.Authorizer        = (*Authorizer)(nil)
	_ kms.PolicyChecker     = (*Authorizer)(nil)
	_ kms.PrincipalResolver = (*Authorizer)(nil)
)

// denyAll is what Prepare returns for a document that does not parse: a
// policy without statements, which allows nothing.
var denyAll = func() *policy.Policy {
	p, err := policy.Parse(`{"Version":"2012-10-17","Statement":[]}`)
	if err != nil {
		panic(err)
	}
	return p
}()

// New returns an Authorizer.
func New(cfg Config) *Authorizer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authorizer{ids: cfg.Identities, now: cfg.Now, cache: policy.NewCache(cfg.CacheSize), log: cfg.Logger}
	if r, ok := cfg.Identities.(PrincipalResolver); ok {
		a.resolver = r
	}
	a.pool.New = func() any { return new(state) }
	return a
}

// Prepare parses a key policy document and binds the principals it names
// to the unique IDs in principals (ARN -> ID, as CheckKeyPolicy returned
// them when the policy was stored; see policy.Policy.Bind). A document that
// does not parse (it was refused when stored, so this means corruption)
// yields a policy that allows nothing.
func (a *Authorizer) Prepare(doc string, principals map[string]string) *policy.Policy {
	p, err := a.cache.Parse(doc)
	if err != nil {
		a.log.Error("stored key policy does not parse; the key is denied to everyone")
		return denyAll
	}
	return p.Bind(principals)
}

// PrincipalID implements kms.PrincipalResolver with the identity source's
// PrincipalResolver; without one no principal is bindable.
func (a *Authorizer) PrincipalID(ctx context.Context, arn string) (string, bool, error) {
	if a.resolver == nil {
		return "", false, nil
	}
	return a.resolver.PrincipalID(ctx, arn)
}

// state is the per-request scratch space, pooled so that authorizing a
// request allocates nothing in the common case.
type state struct {
	req policy.Request
	ctx reqContext
	ids [4]*policy.Policy
	in  policy.Input
}

func (a *Authorizer) get() *state { return a.pool.Get().(*state) }

func (a *Authorizer) put(s *state) {
	s.ctx = reqContext{}
	s.req = policy.Request{}
	s.in = policy.Input{}
	clear(s.ids[:])
	a.pool.Put(s)
}

// AuthorizeKey decides an action on a key. It returns nil if the request is
// allowed, an *awserr.Error with code AccessDeniedException if it is not,
// KMSInternalException if the caller's identity policies could not be
// read, and the error of KeyRequest.Aliases if a policy asked for the key's
// aliases and they could not be read.
func (a *Authorizer) AuthorizeKey(ctx context.Context, r *kms.KeyRequest) error {
	c := r.Caller
	if c == nil {
		return policy.DenyNoResourcePolicy("anonymous", r.Action, r.KeyARN)
	}
	kp := r.Policy
	if kp == nil {
		return policy.DenyNoResourcePolicy(c.ARN, r.Action, r.KeyARN)
	}
	if (c.Service != "" || c.Type == string(policy.TypeAWSService)) && c.Account != r.KeyAccount {
		// A service principal is its account's front end of the service
		// (docs/services.md): another account's key policy or grant
		// naming the service does not reach it.
		return policy.DenyCrossAccount(c.ARN, r.Action)
	}
	s := a.get()
	defer a.put(s)
	s.ctx = reqContext{a: a, caller: c, conds: r.Conditions, key: r}
	s.req = policy.Request{Action: r.Action, Resource: r.KeyARN, Principal: principalOf(c), Context: &s.ctx}
	s.in = policy.Input{KeyPolicy: kp, KeyAccount: r.KeyAccount, GrantAllows: r.GrantAllows}
	return a.decide(ctx, c, s)
}

// AuthorizeAccount decides an action without a key resource (resource
// "*", or r.Resource when set, such as an alias ARN): identity policies
// alone decide; the account root is always allowed unless an identity
// policy denies. Errors are those of AuthorizeKey.
func (a *Authorizer) AuthorizeAccount(ctx context.Context, r *kms.AccountRequest) error {
	c := r.Caller
	if c == nil {
		return policy.DenyNoIdentityPolicy("anonymous", r.Action, "*")
	}
	s := a.get()
	defer a.put(s)
	resource := r.Resource
	if resource == "" {
		resource = "*"
	}
	s.ctx = reqContext{a: a, caller: c, conds: r.Conditions}
	s.req = policy.Request{Action: r.Action, Resource: resource, Principal: principalOf(c), Context: &s.ctx}
	return a.decide(ctx, c, s)
}

// decide adds the caller's identity policies to s and evaluates s.req.
func (a *Authorizer) decide(ctx context.Context, c *kms.Caller, s *state) error {
	if err := a.identities(ctx, c, s); err != nil {
		return err
	}
	err := policy.Authorize(&s.req, s.in)
	if s.ctx.err != nil {
		// A condition key the policies asked for could not be read
		// (kms:ResourceAliases from the store): no decision.
		return s.ctx.err
	}
	return err
}

// identities loads and parses the caller's identity policies into s.in.
// The account root has none, so its requests never reach the directory.
func (a *Authorizer) identities(ctx context.Context, c *kms.Caller, s *state) error {
	if a.ids == nil || c.Type == string(policy.TypeRoot) {
		return nil
	}
	docs, err := a.ids.IdentityPolicies(ctx, c)
	if err != nil {
		a.log.ErrorContext(ctx, "read identity policies", "principal", c.ARN, "err", err)
		return awserr.Internal()
	}
	ps := s.ids[:0]
	for _, d := range docs {
		p, err := a.cache.ParseIdentity(d)
		if err != nil {
			// A stored identity policy that does not parse allows nothing;
			// it cannot deny either, so skipping it is the closest safe
			// reading. The IAM API refuses such documents on the way in.
			a.log.ErrorContext(ctx, "stored identity policy does not parse", "principal", c.ARN)
			continue
		}
		ps = append(ps, p)
	}
	s.in.Identity = ps
	return nil
}

// principalOf maps a caller to the policy engine's principal.
func principalOf(c *kms.Caller) policy.Principal {
	return policy.Principal{ARN: c.ARN, Account: c.Account, Type: policy.PrincipalType(c.Type), RoleARN: c.RoleARN, UserID: c.PrincipalID,
		TokenIssueTime: c.TokenIssueTime}
}
