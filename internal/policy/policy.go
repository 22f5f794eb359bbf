package policy

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/trentkms/trent/internal/awserr"
)

// Versions of the policy language accepted by Parse. Policy variables are
// substituted only under Version2012; under Version2008 "${...}" is literal.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Messages of MalformedPolicyDocumentException returned by Parse and
// ParseIdentity. MsgInvalidPrincipals and MsgLockout are the texts AWS KMS
// sends; the others follow AWS's style where no AWS text is known.
const (
	MsgInvalidJSON          = "The policy document is not valid JSON."
	MsgInvalidPrincipals    = "Policy contains a statement with one or more invalid principals."
	MsgNoPrincipal          = "Each statement in the key policy must contain one or more principals."
	MsgPrincipalInIdentity  = "Policy document should not specify a principal."
	MsgLockout              = "The new key policy will not allow you to update the key policy in the future."
	MsgUnsupportedVersion   = "The policy document specifies an unsupported Version."
	MsgInvalidCharacters    = "The policy document contains characters that are not allowed."
	MsgDuplicateSid         = "Statement IDs (SID) in a single policy must be unique."
	msgUnknownElementPrefix = "The policy document contains an unsupported element: "
)

// Messages of MalformedPolicyDocumentException for JSON and Sid rules.
const (
	// MsgSidNotAlphanumeric is IAM's text for a Sid of an IAM policy
	// with other characters than ASCII letters and digits. Key policies
	// take any Sid (AWS's default key policy's Sids have spaces).
	MsgSidNotAlphanumeric = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
	// MsgDuplicateKey refuses a document with a key twice in one object:
	// the evaluator would read one of the two values, a person reviewing
	// the stored document the other.
	MsgDuplicateKey = "The policy document contains the same key twice in one object."
)

// Policy is a parsed, compiled policy document. It is immutable and safe for
// concurrent use.
type Policy struct {
	// Version is the document's Version ("2008-10-17" when absent).
	Version string
	// ID is the document's optional Id.
	ID string
	// Statements in document order.
	Statements []*Statement

	order []*Statement // Deny statements first, for early exit
	vars  bool         // policy variables are substituted
}

// Statement is one compiled statement of a policy.
type Statement struct {
	// Sid is the optional statement ID.
	Sid string
	// Allow is true for Effect "Allow", false for "Deny".
	Allow bool

	principal    *principalSet // nil when the statement has no Principal/NotPrincipal
	notPrincipal bool
	actions      []pattern
	notAction    bool
	resources    []pattern
	notResource  bool
	effective    bool // has Action/NotAction and Resource/NotResource
	conds        []*condition
}

// Parse parses a resource-based policy (a KMS key policy). Every statement
// must name a principal (Principal or NotPrincipal). Parse returns an
// *awserr.Error with code MalformedPolicyDocumentException if the document is
// not valid JSON, uses an unknown element, operator or version, names an
// invalid principal or contains characters KMS does not accept in key
// policies. Size limits are the caller's to check (32 KiB for key policies).
// Statements without Action or Resource are accepted but never match, as in
// AWS KMS.
func Parse(doc string) (*Policy, error) {
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return nil, malformed(MsgInvalidCharacters)
		}
	}
	for _, r := range doc {
		if r > 0xFF {
			return nil, malformed(MsgInvalidCharacters)
		}
	}
	return parse(doc, true)
}

// ParseIdentity parses an IAM identity policy (attached to a user or role).
// It returns MalformedPolicyDocumentException under the same conditions as
// Parse, except that statements must not name a principal.
func ParseIdentity(doc string) (*Policy, error) {
	return parse(doc, false)
}

func malformed(msg string) *awserr.Error { return awserr.New(awserr.MalformedPolicyDocument, msg) }

func parse(doc string, resource bool) (*Policy, error) {
	if !jsontext.Value(doc).IsValid() && jsontext.Value(doc).IsValid(jsontext.AllowDuplicateNames(true)) {
		return nil, malformed(MsgDuplicateKey)
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, malformed(MsgInvalidJSON)
	}
	if dec.More() {
		return nil, malformed(MsgInvalidJSON)
	}
	p := &Policy{Version: Version2008}
	var stmts json.RawMessage
	for k, v := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil {
				return nil, malformed(MsgUnsupportedVersion)
			}
			if p.Version != Version2012 && p.Version != Version2008 {
				return nil, malformed(MsgUnsupportedVersion)
			}
		case "Id":
			if err := json.Unmarshal(v, &p.ID); err != nil {
				return nil, malformed(MsgInvalidJSON)
			}
		case "Statement":
			stmts = v
		default:
			return nil, malformed(msgUnknownElementPrefix + truncate(k))
		}
	}
	p.vars = p.Version == Version2012
	if stmts == nil {
		return nil, malformed("The policy document must contain a Statement.")
	}
	var raws []json.RawMessage
	switch firstByte(stmts) {
	case '{':
		raws = []json.RawMessage{stmts}
	case '[':
		if err := json.Unmarshal(stmts, &raws); err != nil {
			return nil, malformed(MsgInvalidJSON)
		}
	default:
		return nil, malformed("The Statement element must be an object or an array of objects.")
	}
	sids := map[string]bool{}
	for _, r := range raws {
		s, err := parseStatement(r, resource, p.vars)
		if err != nil {
			return nil, err
		}
		if !resource && !ValidIAMSid(s.Sid) {
			return nil, malformed(MsgSidNotAlphanumeric)
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, malformed(MsgDuplicateSid)
			}
			sids[s.Sid] = true
		}
		p.Statements = append(p.Statements, s)
	}
	for _, s := range p.Statements {
		if !s.Allow && s.effective {
			p.order = append(p.order, s)
		}
	}
	for _, s := range p.Statements {
		if s.Allow && s.effective {
			p.order = append(p.order, s)
		}
	}
	return p, nil
}

// ValidIAMSid reports whether sid is a valid Sid of an IAM policy (identity
// or trust policy): ASCII letters and digits only, possibly empty.
func ValidIAMSid(sid string) bool {
	for i := 0; i < len(sid); i++ {
		c := sid[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func parseStatement(raw json.RawMessage, resource, vars bool) (*Statement, error) {
	if firstByte(raw) != '{' {
		return nil, malformed("Each Statement must be a JSON object.")
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, malformed(MsgInvalidJSON)
	}
	s := &Statement{}
	var hasEffect, hasAction, hasResource, hasPrincipal bool
	for k, v := range m {
		var err error
		switch k {
		case "Sid":
			if json.Unmarshal(v, &s.Sid) != nil {
				return nil, malformed("The Sid element must be a string.")
			}
		case "Effect":
			var e string
			if json.Unmarshal(v, &e) != nil || (e != "Allow" && e != "Deny") {
				return nil, malformed("The Effect element must be \"Allow\" or \"Deny\".")
			}
			s.Allow, hasEffect = e == "Allow", true
		case "Principal", "NotPrincipal":
			if hasPrincipal {
				return nil, malformed("A statement cannot contain both Principal and NotPrincipal.")
			}
			if !resource {
				return nil, malformed(MsgPrincipalInIdentity)
			}
			hasPrincipal = true
			s.notPrincipal = k == "NotPrincipal"
			s.principal, err = parsePrincipal(v)
		case "Action", "NotAction":
			if hasAction {
				return nil, malformed("A statement cannot contain both Action and NotAction.")
			}
			hasAction = true
			s.notAction = k == "NotAction"
			s.actions, err = parsePatterns(v, k, false)
		case "Resource", "NotResource":
			if hasResource {
				return nil, malformed("A statement cannot contain both Resource and NotResource.")
			}
			hasResource = true
			s.notResource = k == "NotResource"
			s.resources, err = parsePatterns(v, k, vars)
		case "Condition":
			s.conds, err = parseConditions(v, vars)
		default:
			return nil, malformed(msgUnknownElementPrefix + truncate(k))
		}
		if err != nil {
			return nil, err
		}
	}
	if !hasEffect {
		return nil, malformed("Each statement must contain an Effect element.")
	}
	if resource && !hasPrincipal {
		return nil, malformed(MsgNoPrincipal)
	}
	s.effective = hasAction && hasResource
	return s, nil
}

// stringList decodes a JSON string or array of strings.
func stringList(v json.RawMessage) ([]string, bool) {
	switch firstByte(v) {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, false
		}
		return []string{s}, true
	case '[':
		var l []string
		if json.Unmarshal(v, &l) != nil {
			return nil, false
		}
		return l, true
	}
	return nil, false
}

func parsePatterns(v json.RawMessage, elem string, vars bool) ([]pattern, error) {
	l, ok := stringList(v)
	if !ok || len(l) == 0 {
		return nil, malformed("The " + elem + " element must be a string or a non-empty array of strings.")
	}
	out := make([]pattern, 0, len(l))
	for _, s := range l {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, malformed(MsgInvalidCharacters)
		}
		if elem == "Action" || elem == "NotAction" {
			if s != "*" && strings.IndexByte(s, ':') <= 0 {
				return nil, malformed("Actions must be of the form service:action or \"*\".")
			}
		}
		out = append(out, compilePattern(s, vars))
	}
	return out, nil
}
