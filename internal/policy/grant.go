package policy

import "strings"

// Grant is the part of a KMS grant that decides whether it allows a request.
type Grant struct {
	// GranteePrincipal is the grantee's ARN. A role ARN matches the role's
	// sessions; an account root ARN matches only the root principal. For a
	// service-principal grantee it is the service name.
	GranteePrincipal string
	// GranteeID, when set, is the unique ID GranteePrincipal was bound to
	// when the grant was created (a user's AIDA..., a role's AROA..., also
	// for a role session grantee): only a caller whose aws:userid is that
	// ID, or ID:SESSION for a role, is the grantee. A principal deleted and
	// re-created under the same name is not.
	GranteeID string
	// Operations are GrantOperation values without the "kms:" prefix
	// ("Encrypt", "ReEncryptFrom", ...).
	Operations []string
	// EncryptionContextEquals, when non-nil, requires the request's
	// encryption context to equal it exactly.
	EncryptionContextEquals map[string]string
	// EncryptionContextSubset, when non-nil, requires every pair in it to be
	// in the request's encryption context.
	EncryptionContextSubset map[string]string
}

// Allows reports whether g lets principal perform operation (a
// GrantOperation such as "Decrypt"; "kms:Decrypt" is accepted too) with
// encryption context ec. Encryption-context constraints do not apply to
// DescribeKey, RetireGrant and CreateGrant (the caller must check that a
// child grant's constraints are at least as strict); a constrained grant
// never allows other operations that take no encryption context (Sign,
// Verify, GetPublicKey, GenerateMac, VerifyMac, DeriveSharedSecret,
// Encapsulate, Decapsulate). Keys and values compare case-sensitively.
func (g *Grant) Allows(principal Principal, operation string, ec map[string]string) bool {
	operation = strings.TrimPrefix(operation, "kms:")
	if g.GranteePrincipal == "" || (g.GranteePrincipal != principal.ARN && g.GranteePrincipal != principal.RoleARN) {
		return false
	}
	if !boundTo(g.GranteeID, principal.UserID) {
		return false
	}
	found := false
	for _, op := range g.Operations {
		if op == operation {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	if g.EncryptionContextEquals == nil && g.EncryptionContextSubset == nil {
		return true
	}
	switch operation {
	case "DescribeKey", "RetireGrant", "CreateGrant":
		return true
	case "Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey",
		"GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext":
	default:
		return false
	}
	if eq := g.EncryptionContextEquals; eq != nil {
		if len(eq) != len(ec) {
			return false
		}
		for k, v := range eq {
			if x, ok := ec[k]; !ok || x != v {
				return false
			}
		}
	}
	for k, v := range g.EncryptionContextSubset {
		if x, ok := ec[k]; !ok || x != v {
			return false
		}
	}
	return true
}
