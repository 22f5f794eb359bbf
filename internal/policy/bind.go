package policy

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/trentkms/trent/internal/arn"
)

// Principals returns the IAM user and role ARNs
// (arn:PARTITION:iam::ACCOUNT:user/PATH/NAME, ...:role/PATH/NAME) that the
// Principal and NotPrincipal elements of p name, each once, in document
// order. These are the principals AWS resolves to unique IDs when it stores
// a key policy or a role trust policy (see Bind). Account roots, account
// IDs, assumed-role session ARNs, service principals and "*" are not
// included.
func (p *Policy) Principals() []string {
	var out []string
	for _, s := range p.Statements {
		if s.principal == nil {
			continue
		}
		for _, a := range s.principal.arns {
			if isIAMEntityARN(a) && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// isIAMEntityARN reports whether a (an ARN the principal parser accepted)
// is in the iam service: a user or role rather than a role session.
func isIAMEntityARN(a string) bool {
	p, ok := arn.Parse(a)
	return ok && p.Service == "iam" && p.Region == ""
}

// Bind returns p with the principal ARNs its Principal and NotPrincipal
// elements name bound to unique IDs: ids maps an ARN to the unique ID its
// principal had when the policy was stored (AIDA... for a user, AROA... for
// a role). A bound entry matches a caller only if the caller's aws:userid
// (Principal.UserID) is that ID, or for a role that ID followed by
// ":SESSION", so that a principal deleted and re-created under the same
// name does not inherit the policy, as in AWS. Entries not in ids match by
// ARN alone. p is not modified; if ids binds nothing in p, Bind returns p.
func (p *Policy) Bind(ids map[string]string) *Policy {
	if len(ids) == 0 {
		return p
	}
	var out *Policy
	for i, s := range p.Statements {
		if s.principal == nil {
			continue
		}
		bound := s.principal.bind(ids)
		if bound == nil {
			continue
		}
		if out == nil {
			out = &Policy{Version: p.Version, ID: p.ID, vars: p.vars, Statements: slices.Clone(p.Statements)}
		}
		c := *s
		c.principal = bound
		out.Statements[i] = &c
	}
	if out == nil {
		return p
	}
	out.order = make([]*Statement, 0, len(p.order))
	for _, s := range p.order {
		out.order = append(out.order, out.Statements[slices.Index(p.Statements, s)])
	}
	return out
}

// bind returns a copy of ps with its ARNs bound to ids, or nil if ids names
// none of them.
func (ps *principalSet) bind(ids map[string]string) *principalSet {
	var bound []string
	for i, a := range ps.arns {
		if id := ids[a]; id != "" {
			if bound == nil {
				bound = make([]string, len(ps.arns))
			}
			bound[i] = id
		}
	}
	if bound == nil {
		return nil
	}
	c := *ps
	c.ids = bound
	return &c
}

// RenderPrincipals returns doc with each string of an "AWS" member of a
// statement's Principal or NotPrincipal element that is a key of repl
// replaced by repl's value, and everything else (formatting, order, the
// same string in a Condition) unchanged. It is how a stored policy is shown
// once a principal it names no longer exists: AWS shows the unique ID the
// ARN was bound to instead of the ARN. A document that is not valid JSON is
// returned unchanged.
func RenderPrincipals(doc string, repl map[string]string) string {
	if len(repl) == 0 {
		return doc
	}
	r := &renderer{s: doc, repl: repl}
	if !r.value(lvlTop, 0) {
		return doc
	}
	r.ws()
	if r.i != len(doc) || len(r.edits) == 0 {
		return doc
	}
	var b strings.Builder
	last := 0
	for _, e := range r.edits {
		b.WriteString(doc[last:e.from])
		b.WriteString(e.with)
		last = e.to
	}
	b.WriteString(doc[last:])
	return b.String()
}

// Where a JSON value sits in a policy document, as RenderPrincipals sees it.
const (
	lvlOther      = iota
	lvlTop        // the document
	lvlStatements // the Statement member: one statement or an array of them
	lvlStatement  // a statement
	lvlPrincipal  // a Principal or NotPrincipal member
	lvlAWS        // the AWS member of a principal: a string or strings
)

// maxRenderDepth bounds the nesting RenderPrincipals follows; a deeper
// document is returned unchanged (no stored policy nests this deep).
const maxRenderDepth = 64

type edit struct {
	from, to int
	with     string
}

// renderer is a minimal JSON scanner that records the string tokens to
// replace, so that the rest of the document is kept byte for byte.
type renderer struct {
	s     string
	i     int
	repl  map[string]string
	edits []edit
}

func (r *renderer) ws() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *renderer) value(lvl, depth int) bool {
	if depth > maxRenderDepth {
		return false
	}
	r.ws()
	if r.i >= len(r.s) {
		return false
	}
	switch r.s[r.i] {
	case '{':
		return r.object(lvl, depth)
	case '[':
		elem := lvlOther
		switch lvl {
		case lvlStatements:
			elem = lvlStatement
		case lvlAWS:
			elem = lvlAWS
		}
		return r.array(elem, depth)
	case '"':
		from := r.i
		v, ok := r.str()
		if !ok {
			return false
		}
		if lvl == lvlAWS {
			if id, ok := r.repl[v]; ok {
				q, _ := json.Marshal(id)
				r.edits = append(r.edits, edit{from: from, to: r.i, with: string(q)})
			}
		}
		return true
	}
	start := r.i
	for r.i < len(r.s) && strings.IndexByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.", r.s[r.i]) >= 0 {
		r.i++
	}
	return r.i > start
}

func (r *renderer) object(lvl, depth int) bool {
	if lvl == lvlStatements {
		lvl = lvlStatement // a single statement, not in an array
	}
	r.i++ // '{'
	r.ws()
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		return true
	}
	for {
		r.ws()
		if r.i >= len(r.s) || r.s[r.i] != '"' {
			return false
		}
		key, ok := r.str()
		if !ok {
			return false
		}
		r.ws()
		if r.i >= len(r.s) || r.s[r.i] != ':' {
			return false
		}
		r.i++
		child := lvlOther
		switch {
		case lvl == lvlTop && key == "Statement":
			child = lvlStatements
		case lvl == lvlStatement && (key == "Principal" || key == "NotPrincipal"):
			child = lvlPrincipal
		case lvl == lvlPrincipal && key == "AWS":
			child = lvlAWS
		}
		if !r.value(child, depth+1) {
			return false
		}
		r.ws()
		if r.i >= len(r.s) {
			return false
		}
		switch r.s[r.i] {
		case ',':
			r.i++
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

func (r *renderer) array(elem, depth int) bool {
	r.i++ // '['
	r.ws()
	if r.i < len(r.s) && r.s[r.i] == ']' {
		r.i++
		return true
	}
	for {
		if !r.value(elem, depth+1) {
			return false
		}
		r.ws()
		if r.i >= len(r.s) {
			return false
		}
		switch r.s[r.i] {
		case ',':
			r.i++
		case ']':
			r.i++
			return true
		default:
			return false
		}
	}
}

// str scans the string token at r.i and returns its decoded value.
func (r *renderer) str() (string, bool) {
	from := r.i
	r.i++ // '"'
	escaped := false
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case '\\':
			escaped = true
			r.i += 2
			continue
		case '"':
			r.i++
			tok := r.s[from:r.i]
			if !escaped {
				return tok[1 : len(tok)-1], true
			}
			var v string
			if json.Unmarshal([]byte(tok), &v) != nil {
				return "", false
			}
			return v, true
		}
		r.i++
	}
	return "", false
}
