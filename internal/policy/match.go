package policy

import (
	"encoding/json"
	"strings"

	"github.com/trentkms/trent/internal/arn"
)

// esc marks the next byte of a substituted pattern as literal: it is how
// ${*} and ${?} become a literal '*' and '?'. Parse rejects NUL in patterns,
// so the marker never comes from a document.
const esc = 0

// pattern is a compiled string that may contain wildcards and, under
// Version 2012-10-17, policy variables.
type pattern struct {
	raw    string
	wild   bool // contains '*' or '?'
	any    bool // exactly "*"
	prefix bool // wildcards only as one trailing '*'
	segs   []seg
}

// seg is a piece of a pattern with variables: a literal or a variable.
type seg struct {
	lit    string
	key    string // lowercased condition key; "" for a literal
	def    string
	hasDef bool
}

func compilePattern(s string, vars bool) pattern {
	p := pattern{raw: s, wild: strings.ContainsAny(s, "*?")}
	p.any = s == "*"
	p.prefix = p.wild && strings.IndexAny(s, "*?") == len(s)-1 && s[len(s)-1] == '*'
	if vars && strings.Contains(s, "${") {
		p.segs = compileVars(s)
	}
	return p
}

// compileVars splits s into literals and ${key} or ${key, 'default'}
// variables. An unterminated "${" is literal.
func compileVars(s string) []seg {
	var segs []seg
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		if i > 0 {
			segs = append(segs, seg{lit: s[:i]})
		}
		body := strings.TrimSpace(s[i+2 : i+j])
		switch body {
		case "*", "?":
			segs = append(segs, seg{lit: string([]byte{esc, body[0]})})
		case "$":
			segs = append(segs, seg{lit: "$"})
		default:
			sg := seg{key: strings.ToLower(body)}
			if k, d, ok := strings.Cut(body, ","); ok {
				d = strings.TrimSpace(d)
				if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
					sg = seg{key: strings.ToLower(strings.TrimSpace(k)), def: d[1 : len(d)-1], hasDef: true}
				}
			}
			segs = append(segs, sg)
		}
		s = s[i+j+1:]
	}
	if s != "" {
		segs = append(segs, seg{lit: s})
	}
	return segs
}

// expand substitutes the variables of p from the request. literal selects
// the form for exact comparison (escape markers dropped) rather than for
// glob matching. ok is false if a variable has no single value and no
// default, in which case the pattern matches nothing.
func (p *pattern) expand(req *Request, literal bool) (string, bool) {
	if p.segs == nil {
		return p.raw, true
	}
	var b strings.Builder
	for _, sg := range p.segs {
		if sg.key == "" {
			if literal && len(sg.lit) == 2 && sg.lit[0] == esc {
				b.WriteByte(sg.lit[1])
			} else {
				b.WriteString(sg.lit)
			}
			continue
		}
		v, ok := lookup(req, sg.key)
		switch {
		case ok && isAmbiguous(v.many):
			return "", false // no default stands in for a value the request gave twice
		case ok && v.n == 1:
			s := v.at(0)
			if literal {
				b.WriteString(s)
			} else {
				for i := 0; i < len(s); i++ {
					if s[i] == '*' || s[i] == '?' {
						b.WriteByte(esc)
					}
					b.WriteByte(s[i])
				}
			}
		case sg.hasDef:
			b.WriteString(sg.def)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// matchGlob reports whether s matches the pattern, with variables substituted.
func (p *pattern) matchGlob(req *Request, s string, fold bool) bool {
	if p.segs == nil {
		switch {
		case p.any:
			return true
		case !p.wild:
			if fold {
				return strings.EqualFold(p.raw, s)
			}
			return p.raw == s
		case p.prefix:
			n := len(p.raw) - 1
			if len(s) < n {
				return false
			}
			if fold {
				return strings.EqualFold(p.raw[:n], s[:n])
			}
			return p.raw[:n] == s[:n]
		}
		return glob(p.raw, s, fold)
	}
	x, ok := p.expand(req, false)
	return ok && glob(x, s, fold)
}

// glob matches s against pattern pat, where '*' matches any run of bytes and
// '?' any single byte; esc makes the next pattern byte literal. With fold,
// ASCII letters compare case-insensitively. The algorithm is linear in
// practice (single backtrack point) and never allocates.
func glob(pat, s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(pat) {
			c := pat[pi]
			switch {
			case c == '*':
				starP, starS = pi, si
				pi++
				continue
			case c == '?':
				pi++
				si++
				continue
			case c == esc && pi+1 < len(pat):
				if eqByte(pat[pi+1], s[si], fold) {
					pi += 2
					si++
					continue
				}
			default:
				if eqByte(c, s[si], fold) {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}

func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

// arnMatch compares two ARNs field by field (arn:partition:service:region:
// account:resource), with wildcards allowed in each field of the pattern.
func arnMatch(pat, s string) bool {
	pf, ok := arn.Split(pat)
	if !ok {
		return false
	}
	sf, ok := arn.Split(s)
	if !ok {
		return false
	}
	for i := range pf {
		if !glob(pf[i], sf[i], false) {
			return false
		}
	}
	return true
}

// principalSet is a compiled Principal or NotPrincipal element.
type principalSet struct {
	any      bool
	accounts []string // account IDs named as "123456789012" or as their root ARN
	arns     []string // IAM user, role and assumed-role session ARNs
	// ids, when not nil, holds the unique ID each entry of arns is bound to
	// ("" for an unbound entry); see Policy.Bind.
	ids      []string
	services []string
}

func parsePrincipal(v json.RawMessage) (*principalSet, error) {
	ps := &principalSet{}
	if firstByte(v) == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil || s != "*" {
			return nil, malformed(MsgInvalidPrincipals)
		}
		ps.any = true
		return ps, nil
	}
	var m map[string]json.RawMessage
	if firstByte(v) != '{' || json.Unmarshal(v, &m) != nil || len(m) == 0 {
		return nil, malformed(MsgInvalidPrincipals)
	}
	for typ, raw := range m {
		l, ok := stringList(raw)
		if !ok || len(l) == 0 {
			return nil, malformed(MsgInvalidPrincipals)
		}
		for _, id := range l {
			switch typ {
			case "AWS":
				if !ps.addAWS(id) {
					return nil, malformed(MsgInvalidPrincipals)
				}
			case "Service":
				if !validService(id) {
					return nil, malformed(MsgInvalidPrincipals)
				}
				ps.services = append(ps.services, id)
			case "Federated", "CanonicalUser":
				// Accepted for compatibility; Trent has no such principals,
				// so they never match.
			default:
				return nil, malformed(MsgInvalidPrincipals)
			}
		}
	}
	return ps, nil
}

func (ps *principalSet) addAWS(id string) bool {
	if id == "*" {
		ps.any = true
		return true
	}
	if arn.ValidAccountID(id) {
		ps.accounts = append(ps.accounts, id)
		return true
	}
	// arn:<partition>:<iam|sts>::<account>:<resource>
	a, ok := arn.Parse(id)
	if !ok || !strings.HasPrefix(a.Partition, "aws") || a.Region != "" || !arn.ValidAccountID(a.Account) {
		return false
	}
	res := a.Resource
	if strings.ContainsAny(res, "*?") {
		return false
	}
	switch a.Service {
	case "iam":
		if res == "root" {
			ps.accounts = append(ps.accounts, a.Account)
			return true
		}
		if strings.HasPrefix(res, "user/") || strings.HasPrefix(res, "role/") {
			ps.arns = append(ps.arns, id)
			return true
		}
	case "sts":
		if strings.HasPrefix(res, "assumed-role/") && strings.Count(res, "/") >= 2 {
			ps.arns = append(ps.arns, id)
			return true
		}
	}
	return false
}

func validService(s string) bool {
	if len(s) == 0 || len(s) > 128 || strings.Count(s, ".") < 1 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// principal match results.
const (
	pmNone    = iota
	pmDirect  // the statement names this principal (or "*")
	pmAccount // the statement names the principal's account root: delegation to IAM
)

func (ps *principalSet) match(p *Principal) int {
	if ps.any {
		return pmDirect
	}
	if p.Type == TypeAWSService {
		for _, s := range ps.services {
			if s == p.ARN {
				return pmDirect
			}
		}
		return pmNone
	}
	for i, a := range ps.arns {
		if a == p.ARN || (p.RoleARN != "" && a == p.RoleARN) {
			if ps.ids != nil && !boundTo(ps.ids[i], p.UserID) {
				continue
			}
			return pmDirect
		}
	}
	for _, a := range ps.accounts {
		if a == p.Account && p.Account != "" {
			if p.Type == TypeRoot {
				return pmDirect
			}
			return pmAccount
		}
	}
	return pmNone
}

// excludes reports whether a NotPrincipal set lists exactly this principal.
// As in AWS, naming a role does not exclude its sessions and naming an
// account does not exclude its users: only an exact ARN (or the account
// root for the root principal) excludes.
func (ps *principalSet) excludes(p *Principal) bool {
	if ps.any {
		return true
	}
	if p.Type == TypeAWSService {
		for _, s := range ps.services {
			if s == p.ARN {
				return true
			}
		}
		return false
	}
	for i, a := range ps.arns {
		if a == p.ARN && (ps.ids == nil || boundTo(ps.ids[i], p.UserID)) {
			return true
		}
	}
	if p.Type == TypeRoot {
		for _, a := range ps.accounts {
			if a == p.Account {
				return true
			}
		}
	}
	return false
}

// boundTo reports whether a caller whose aws:userid is userID is the
// principal with unique ID id: the user itself (userID == id) or a session
// of the role (userID is id + ":" + session). An empty id binds nothing.
// It does not allocate: it runs on every request that a bound statement
// could match.
func boundTo(id, userID string) bool {
	if id == "" || userID == id {
		return true
	}
	return len(userID) > len(id) && userID[len(id)] == ':' && userID[:len(id)] == id
}
