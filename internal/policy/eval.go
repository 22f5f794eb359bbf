package policy

// Decision is the outcome of evaluating one policy.
type Decision int

// Decisions of Evaluate.
const (
	// NotApplicable means no statement matched: an implicit deny.
	NotApplicable Decision = iota
	// Allow means an Allow statement matched and no Deny statement did.
	Allow
	// Deny means a Deny statement matched.
	Deny
)

// String returns "Allow", "Deny" or "NotApplicable".
func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NotApplicable"
}

// outcome is the detailed result of evaluating one policy.
type outcome struct {
	deny    bool
	direct  bool // an Allow statement names the principal (or "*", or identity policy)
	account bool // an Allow statement names the principal's account root
}

// Evaluate evaluates one policy for req. With asResourcePolicy the policy is
// a key policy: statements must name the principal, and a statement naming
// the principal's account root counts as Allow (use Authorize to apply the
// delegation rule that such a statement needs an identity policy too).
// Without it the policy is an identity policy and Principal elements are
// ignored. In a key policy Resource "*" means the key itself. Evaluate never
// fails: anything it cannot match simply does not match.
func (p *Policy) Evaluate(req *Request, asResourcePolicy bool) Decision {
	o := p.eval(req, asResourcePolicy, false)
	switch {
	case o.deny:
		return Deny
	case o.direct || o.account:
		return Allow
	}
	return NotApplicable
}

// eval evaluates p. With optimistic, conditions are assumed to hold for
// Allow statements and to fail for Deny statements (the lockout check).
func (p *Policy) eval(req *Request, resource, optimistic bool) outcome {
	var o outcome
	for _, s := range p.order {
		if o.direct && s.Allow {
			break // Deny statements come first; one direct Allow decides.
		}
		if !s.matchAction(req.Action) || !s.matchResource(req) {
			continue
		}
		pm := pmDirect
		if resource {
			pm = s.matchPrincipal(&req.Principal)
			if pm == pmNone {
				continue
			}
		}
		if optimistic {
			if !s.Allow && len(s.conds) > 0 {
				continue
			}
		} else if !s.matchConditions(req) {
			continue
		}
		switch {
		case !s.Allow:
			o.deny = true
			return o
		case pm == pmDirect:
			o.direct = true
		default:
			o.account = true
		}
	}
	return o
}

func (s *Statement) matchAction(action string) bool {
	m := false
	for i := range s.actions {
		if s.actions[i].matchGlob(nil, action, true) {
			m = true
			break
		}
	}
	return m != s.notAction
}

func (s *Statement) matchResource(req *Request) bool {
	m := false
	for i := range s.resources {
		if s.resources[i].matchGlob(req, req.Resource, false) {
			m = true
			break
		}
	}
	return m != s.notResource
}

func (s *Statement) matchPrincipal(p *Principal) int {
	if s.principal == nil {
		return pmNone
	}
	if s.notPrincipal {
		if s.principal.excludes(p) {
			return pmNone
		}
		return pmDirect
	}
	return s.principal.match(p)
}

func (s *Statement) matchConditions(req *Request) bool {
	for _, c := range s.conds {
		if !c.eval(req, s.Allow) {
			return false
		}
	}
	return true
}
