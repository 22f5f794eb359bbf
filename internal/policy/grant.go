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
	// encryption context to have exactly its pairs: the same keys, matched
	// without regard to case, with the same values, matched exactly.
	EncryptionContextEquals map[string]string
	// EncryptionContextSubset, when non-nil, requires every pair in it to be
	// in the request's encryption context (keys matched without regard to
	// case, values exactly).
	EncryptionContextSubset map[string]string
}

// Allows reports whether g lets principal perform operation (a
// GrantOperation such as "Decrypt"; "kms:Decrypt" is accepted too) with
// encryption context ec, the request's context with its keys as sent.
// Encryption-context constraints do not apply to DescribeKey, RetireGrant
// and CreateGrant (the caller must check that a child grant's constraints
// are at least as strict); a constrained grant never allows other
// operations that take no encryption context (Sign, Verify, GetPublicKey,
// GenerateMac, VerifyMac, DeriveSharedSecret, Encapsulate, Decapsulate).
//
// As the AWS KMS Developer Guide states for grant constraints, context keys
// match without regard to case (FoldEqual) and values match exactly. A
// constraint key that more than one key of ec matches ("dept" against a
// context holding "dept" and "Dept") is never satisfied, and neither is an
// EncryptionContextEquals whose own keys collide under case folding: the
// answer is a deny that does not depend on map order.
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
		if len(eq) != len(ec) || !foldDistinct(eq) {
			return false
		}
		// Every key of eq matches exactly one key of ec, distinct keys of
		// eq match distinct keys of ec, and the sizes are equal: ec holds
		// no other key.
		if !pairsIn(eq, ec) {
			return false
		}
	}
	return pairsIn(g.EncryptionContextSubset, ec)
}

// pairsIn reports whether every pair of want is in ec: exactly one key of
// ec equals the pair's key under case folding, and its value equals the
// pair's value exactly.
func pairsIn(want, ec map[string]string) bool {
	for k, v := range want {
		x, ok := foldLookup(ec, k)
		if !ok || x != v {
			return false
		}
	}
	return true
}

// foldLookup returns the value of the one key of ec that equals k under
// case folding; ok is false if no key or more than one does.
func foldLookup(ec map[string]string, k string) (string, bool) {
	var val string
	n := 0
	for ek, ev := range ec {
		if FoldEqual(ek, k) {
			if n++; n > 1 {
				return "", false
			}
			val = ev
		}
	}
	return val, n == 1
}

// foldDistinct reports whether no two keys of m are equal under case
// folding.
func foldDistinct(m map[string]string) bool {
	for a := range m {
		n := 0
		for b := range m {
			if FoldEqual(a, b) {
				n++
			}
		}
		if n > 1 {
			return false
		}
	}
	return true
}
