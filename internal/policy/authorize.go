package policy

import (
	"github.com/trentkms/trent/internal/awserr"
)

// Input is what Authorize needs besides the request.
type Input struct {
	// KeyPolicy is the key's policy, or nil for operations without a key
	// resource (IAMOnly), which identity policies alone decide.
	KeyPolicy *Policy
	// KeyAccount is the account that owns the key.
	KeyAccount string
	// Identity holds the caller's identity policies (user inline and
	// attached policies, or the assumed role's policies).
	Identity []*Policy
	// GrantAllows reports that a grant on the key allows the request for
	// this principal (see Grant.Allows). Explicit denies still win.
	GrantAllows bool
}

// Authorize decides req the AWS KMS way and returns nil if it is allowed.
// Otherwise it returns an *awserr.Error with code AccessDeniedException and
// AWS's message, which names the principal ARN, the action and the resource
// but never condition values:
//
//   - an explicit Deny in the key policy: DenyExplicitResource;
//   - an explicit Deny in an identity policy: DenyExplicitIdentity;
//   - the key policy delegates to IAM but no identity policy allows (or, for
//     IAMOnly actions, no identity policy allows): DenyNoIdentityPolicy;
//   - otherwise: DenyNoResourcePolicy;
//   - whatever the reason, for a principal of another account than the
//     key's: DenyCrossAccount, which names no resource.
//
// The account root principal is allowed every IAMOnly action of its account
// and every key action its account's root-delegation statement covers,
// without identity policies. A principal of another account is allowed only
// actions CrossAccountAllowed reports, and only when the key policy allows
// it (directly or through its account root) and its identity policies allow
// too, or a grant allows.
func Authorize(req *Request, in Input) error {
	p := &req.Principal
	isRoot := p.Type == TypeRoot
	if in.KeyPolicy == nil {
		allow, deny := evalIdentity(req, in.Identity)
		switch {
		case deny:
			return DenyExplicitIdentity(p.ARN, req.Action, req.Resource)
		case allow || isRoot:
			return nil
		}
		return DenyNoIdentityPolicy(p.ARN, req.Action, req.Resource)
	}
	// Service principals belong to no account; the key policy alone decides.
	cross := p.Type != TypeAWSService && p.Account != in.KeyAccount
	if err := authorizeKey(req, in, cross); err != nil {
		if cross {
			// One answer for every denial across accounts, as AWS KMS
			// gives: which policy refused, or whether the key exists at
			// all, is the key owner's business.
			return DenyCrossAccount(p.ARN, req.Action)
		}
		return err
	}
	return nil
}

// authorizeKey is Authorize for an action on a key (in.KeyPolicy != nil);
// cross reports that the principal is of another account than the key.
func authorizeKey(req *Request, in Input, cross bool) error {
	p := &req.Principal
	isRoot := p.Type == TypeRoot
	if cross && !CrossAccountAllowed(req.Action) {
		return DenyNoResourcePolicy(p.ARN, req.Action, req.Resource)
	}
	ko := in.KeyPolicy.eval(req, true, false)
	if ko.deny {
		return DenyExplicitResource(p.ARN, req.Action, req.Resource)
	}
	allow, deny := evalIdentity(req, in.Identity)
	if deny {
		return DenyExplicitIdentity(p.ARN, req.Action, req.Resource)
	}
	if in.GrantAllows || (ko.direct && !cross) {
		return nil
	}
	if ko.direct || ko.account {
		if isRoot || allow {
			return nil
		}
		return DenyNoIdentityPolicy(p.ARN, req.Action, req.Resource)
	}
	return DenyNoResourcePolicy(p.ARN, req.Action, req.Resource)
}

func evalIdentity(req *Request, ps []*Policy) (allow, deny bool) {
	for _, ip := range ps {
		if ip == nil {
			continue
		}
		o := ip.eval(req, false, false)
		if o.deny {
			return false, true
		}
		allow = allow || o.direct
	}
	return allow, false
}

// WouldAllow reports whether key policy p could let principal call action on
// the key: the policy-lockout safety check of CreateKey and PutKeyPolicy
// (call it with action "kms:PutKeyPolicy"; on false return
// MalformedPolicyDocumentException with MsgLockout). It is deliberately
// lenient, like AWS's check: conditions are assumed to hold for Allow
// statements and conditional Deny statements are ignored, and a statement
// delegating to the principal's account counts as allowing.
func WouldAllow(p *Policy, principal Principal, action string) bool {
	if p == nil {
		return false
	}
	req := &Request{Action: action, Resource: "*", Principal: principal}
	o := p.eval(req, true, true)
	return !o.deny && (o.direct || o.account)
}

// crossAccount lists the actions AWS KMS performs on a key of another
// account ("Cross-account use: Yes" in the API reference).
var crossAccount = map[string]bool{
	"kms:CreateGrant":                         true,
	"kms:Decrypt":                             true,
	"kms:DeriveSharedSecret":                  true,
	"kms:DescribeKey":                         true,
	"kms:Encrypt":                             true,
	"kms:GenerateDataKey":                     true,
	"kms:GenerateDataKeyPair":                 true,
	"kms:GenerateDataKeyPairWithoutPlaintext": true,
	"kms:GenerateDataKeyWithoutPlaintext":     true,
	"kms:GenerateMac":                         true,
	"kms:GetKeyRotationStatus":                true,
	"kms:GetPublicKey":                        true,
	"kms:ListGrants":                          true,
	"kms:ReEncryptFrom":                       true,
	"kms:ReEncryptTo":                         true,
	"kms:RetireGrant":                         true,
	"kms:RevokeGrant":                         true,
	"kms:Sign":                                true,
	"kms:Verify":                              true,
	"kms:VerifyMac":                           true,
	"kms:Encapsulate":                         true,
	"kms:Decapsulate":                         true,
}

// CrossAccountAllowed reports whether AWS KMS allows action (canonical
// spelling, "kms:Encrypt") on a key owned by another account.
func CrossAccountAllowed(action string) bool { return crossAccount[action] }

var iamOnly = map[string]bool{
	"kms:CreateKey":                true,
	"kms:ListKeys":                 true,
	"kms:ListAliases":              true,
	"kms:ListRetirableGrants":      true,
	"kms:GenerateRandom":           true,
	"kms:CreateCustomKeyStore":     true,
	"kms:ConnectCustomKeyStore":    true,
	"kms:DeleteCustomKeyStore":     true,
	"kms:DescribeCustomKeyStores":  true,
	"kms:DisconnectCustomKeyStore": true,
	"kms:UpdateCustomKeyStore":     true,
}

// IAMOnly reports whether action has no key resource and is authorized by
// identity policies alone (call Authorize with a nil KeyPolicy and Resource
// "*"). Alias operations also need IAM permission on the alias resource in
// addition to the key-policy check on the key.
func IAMOnly(action string) bool { return iamOnly[action] }

// DenyCrossAccount returns the AccessDeniedException AWS KMS gives a
// principal for an action on another account's key that it may not
// perform, whether the key exists or not: "User: P is not authorized to
// perform: A on this resource because the resource does not exist in this
// Region, no resource-based policies allow access, or a resource-based
// policy explicitly denies access". It names no resource, so it tells the
// caller nothing about the other account's keys.
func DenyCrossAccount(principal, action string) *awserr.Error {
	return awserr.New(awserr.AccessDenied, "User: "+principal+" is not authorized to perform: "+action+
		" on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access")
}

func denied(principal, action, resource, tail string) *awserr.Error {
	return awserr.New(awserr.AccessDenied,
		"User: "+principal+" is not authorized to perform: "+action+" on resource: "+resource+tail)
}

// DenyNoResourcePolicy returns AccessDeniedException "User: P is not
// authorized to perform: A on resource: R because no resource-based policy
// allows the A action".
func DenyNoResourcePolicy(principal, action, resource string) *awserr.Error {
	return denied(principal, action, resource, " because no resource-based policy allows the "+action+" action")
}

// DenyNoIdentityPolicy returns AccessDeniedException "User: P is not
// authorized to perform: A on resource: R because no identity-based policy
// allows the A action".
func DenyNoIdentityPolicy(principal, action, resource string) *awserr.Error {
	return denied(principal, action, resource, " because no identity-based policy allows the "+action+" action")
}

// DenyExplicitResource returns AccessDeniedException "User: P is not
// authorized to perform: A on resource: R with an explicit deny in a
// resource-based policy".
func DenyExplicitResource(principal, action, resource string) *awserr.Error {
	return denied(principal, action, resource, " with an explicit deny in a resource-based policy")
}

// DenyExplicitIdentity returns AccessDeniedException "User: P is not
// authorized to perform: A on resource: R with an explicit deny in an
// identity-based policy".
func DenyExplicitIdentity(principal, action, resource string) *awserr.Error {
	return denied(principal, action, resource, " with an explicit deny in an identity-based policy")
}
