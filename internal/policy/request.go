package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trentkms/trent/internal/arn"
)

// PrincipalType classifies an authenticated caller.
type PrincipalType string

// Principal types.
const (
	// TypeRoot is an account's root principal, arn:aws:iam::ACCOUNT:root
	// (Trent's bootstrap admin credential).
	TypeRoot PrincipalType = "Root"
	// TypeIAMUser is an IAM user, arn:aws:iam::ACCOUNT:user/NAME.
	TypeIAMUser PrincipalType = "IAMUser"
	// TypeAssumedRole is a role session,
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
	TypeAssumedRole PrincipalType = "AssumedRole"
	// TypeAWSService is a service principal such as "logs.amazonaws.com";
	// its ARN field holds the service name.
	TypeAWSService PrincipalType = "AWSService"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	// ARN is the caller's ARN (the session ARN for assumed roles, the
	// service name for service principals). It appears in denial messages.
	ARN string
	// Account is the caller's 12-digit account ID.
	Account string
	// Type classifies the caller.
	Type PrincipalType
	// RoleARN is, for assumed roles, the role's ARN
	// (arn:aws:iam::ACCOUNT:role/NAME): the name policies use for the role.
	RoleARN string
	// UserID is the value of aws:userid (e.g. "AIDA..." for users,
	// "AROA...:session" for role sessions).
	UserID string
	// TokenIssueTime is aws:TokenIssueTime, when the caller's temporary
	// credential was issued (RFC 3339); empty, and the key absent, for
	// long-term credentials.
	TokenIssueTime string
}

// Context supplies request condition values by key. Get must treat keys
// case-insensitively; the evaluator always passes lowercased keys, so an
// implementation storing lowercased keys can look them up directly.
type Context interface {
	Get(key string) ([]string, bool)
}

// Values is a Context backed by a map whose keys are stored lowercased.
// Build it with Set; a nil Values is an empty context.
type Values map[string][]string

// Set stores the values of a condition key, replacing earlier ones.
func (v Values) Set(key string, vals ...string) { v[strings.ToLower(key)] = vals }

// Get returns the values stored for key, compared case-insensitively.
func (v Values) Get(key string) ([]string, bool) {
	for i := 0; i < len(key); i++ {
		if c := key[i]; 'A' <= c && c <= 'Z' {
			key = strings.ToLower(key)
			break
		}
	}
	x, ok := v[key]
	return x, ok
}

// ambiguous is the marker of a condition key whose value the request does
// not determine; see Ambiguous. Conditions recognize it by identity, so no
// request value (even an equal string) can be mistaken for it.
var ambiguous = []string{"\x00ambiguous"}

// Ambiguous returns the values a Context gives for a condition key that the
// request supplies more than once under case folding, such as
// kms:EncryptionContext:dept for an encryption context holding both "dept"
// and "Dept" (condition key names are case-insensitive, encryption-context
// keys are not). A condition that reads such a key, directly or through a
// policy variable, is false in an Allow statement and true in a Deny
// statement: the key never helps a request to be allowed, and the decision
// does not depend on which of the colliding values a map yields first. The
// slice is shared; callers must not modify it.
func Ambiguous() []string { return ambiguous }

func isAmbiguous(l []string) bool { return len(l) == 1 && &l[0] == &ambiguous[0] }

// FoldEqual reports whether a and b are equal under the case folding of
// condition key names, strings.ToLower(a) == strings.ToLower(b), without
// allocating. Trent applies the same folding to encryption-context keys in
// grant constraints and to tag keys in aws:ResourceTag/ and aws:RequestTag/.
func FoldEqual(a, b string) bool {
	for a != "" && b != "" {
		ra, na := rune(a[0]), 1
		if ra >= utf8.RuneSelf {
			ra, na = utf8.DecodeRuneInString(a)
		}
		rb, nb := rune(b[0]), 1
		if rb >= utf8.RuneSelf {
			rb, nb = utf8.DecodeRuneInString(b)
		}
		a, b = a[na:], b[nb:]
		if ra != rb && unicode.ToLower(ra) != unicode.ToLower(rb) {
			return false
		}
	}
	return a == "" && b == ""
}

// Request is one authorization question: may Principal perform Action on
// Resource, given the condition values in Context?
type Request struct {
	// Action is the IAM action, "kms:Encrypt"; Authorize expects the
	// canonical spelling.
	Action string
	// Resource is the key ARN, or "*" for operations without a key.
	Resource string
	// Principal is the caller.
	Principal Principal
	// Context holds the request's condition keys (kms:*, aws:SourceIp,
	// aws:CurrentTime, aws:ResourceTag/..., ...). It may be nil. Keys derived
	// from Principal (aws:PrincipalArn, aws:PrincipalAccount,
	// kms:CallerAccount, aws:userid, aws:username, aws:PrincipalType,
	// aws:TokenIssueTime, aws:PrincipalIsAWSService, aws:ViaAWSService,
	// aws:MultiFactorAuthPresent) are supplied by the evaluator and need
	// not be set.
	Context Context
}

// vals is a read-only view of a condition key's values that avoids
// allocating for the single values derived from the principal.
type vals struct {
	one  string
	many []string
	n    int
}

func (v vals) at(i int) string {
	if v.many != nil {
		return v.many[i]
	}
	return v.one
}

func single(s string) (vals, bool) {
	if s == "" {
		return vals{}, false
	}
	return vals{one: s, n: 1}, true
}

// lookup resolves a lowercased condition key for req.
func lookup(req *Request, key string) (vals, bool) {
	p := &req.Principal
	switch key {
	case "aws:principalarn":
		if p.RoleARN != "" {
			return single(p.RoleARN)
		}
		if p.Type == TypeAWSService {
			return vals{}, false
		}
		return single(p.ARN)
	case "aws:principalaccount", "kms:calleraccount":
		return single(p.Account)
	case "aws:userid":
		return single(p.UserID)
	case "aws:tokenissuetime":
		return single(p.TokenIssueTime)
	case "aws:username":
		if p.Type != TypeIAMUser {
			return vals{}, false
		}
		return single(arn.Name(p.ARN))
	case "aws:principaltype":
		switch p.Type {
		case TypeRoot:
			return single("Account")
		case TypeIAMUser:
			return single("User")
		case TypeAssumedRole:
			return single("AssumedRole")
		}
		return vals{}, false
	case "aws:principalservicename":
		if p.Type == TypeAWSService {
			return single(p.ARN)
		}
		return vals{}, false
	case "aws:principalisawsservice":
		// In every signed request, as in AWS: a Deny on "Bool
		// aws:PrincipalIsAWSService false" must apply, not be skipped
		// for want of the key.
		if p.Type == TypeAWSService {
			return single("true")
		}
		return single("false")
	case "aws:viaawsservice":
		// In every request, as in AWS; no AWS service calls Trent on a
		// principal's behalf (forward access sessions), so a guardrail
		// "Deny ... Bool aws:ViaAWSService false" (only through a
		// service) denies every direct call, as it does in AWS.
		return single("false")
	case "aws:multifactorauthpresent":
		// Present for temporary credentials (AssumeRole without MFA:
		// false), absent for long-term access keys, as in AWS.
		if p.TokenIssueTime != "" {
			return single("false")
		}
		return vals{}, false
	}
	if req.Context == nil {
		return vals{}, false
	}
	l, ok := req.Context.Get(key)
	if !ok {
		return vals{}, false
	}
	return vals{many: l, n: len(l)}, true
}
