package kms

import (
	"context"
	"errors"
	"strings"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
)

// RefKind says which forms of key reference an operation accepts.
type RefKind int

const (
	// RefKeyOnly: key ID or key ARN (most management operations).
	RefKeyOnly RefKind = iota
	// RefAliasOK: also alias name and alias ARN (crypto operations,
	// DescribeKey, GetPublicKey).
	RefAliasOK
)

// keyRef is a parsed KeyId parameter.
type keyRef struct {
	raw     string
	account string // from an ARN; "" for bare IDs and alias names
	keyID   string // set for key IDs and key ARNs
	alias   string // "alias/..." for alias names and alias ARNs
	isARN   bool
}

// parseKeyRef parses a KeyId parameter without looking anything up.
func (s *Service) parseKeyRef(raw string, kind RefKind) (keyRef, error) {
	r := keyRef{raw: raw}
	switch {
	case strings.HasPrefix(raw, "arn:"):
		a, ok := arn.Parse(raw)
		if !ok || a.Service != "kms" || a.Partition == "" {
			return r, awserr.Newf(awserr.NotFound, "Invalid arn %s", raw)
		}
		if a.Partition != s.partition || a.Region != s.region {
			return r, awserr.Newf(awserr.NotFound, "Invalid arn %s", a.Region)
		}
		if !arn.ValidAccountID(a.Account) {
			return r, awserr.Newf(awserr.NotFound, "Invalid arn %s", raw)
		}
		r.account, r.isARN = a.Account, true
		res := a.Resource
		switch {
		case strings.HasPrefix(res, "key/"):
			r.keyID = res[4:]
			if !ValidKeyID(r.keyID) {
				return r, awserr.Newf(awserr.NotFound, "Invalid keyId '%s'", raw)
			}
		case strings.HasPrefix(res, "alias/"):
			if kind != RefAliasOK {
				return r, awserr.Newf(awserr.NotFound, "Invalid keyId '%s'", raw)
			}
			r.alias = res
		default:
			return r, awserr.Newf(awserr.NotFound, "Invalid arn %s", raw)
		}
	case strings.HasPrefix(raw, "alias/"):
		if kind != RefAliasOK {
			return r, awserr.Newf(awserr.NotFound, "Invalid keyId '%s'", raw)
		}
		r.alias = raw
	default:
		if !ValidKeyID(raw) {
			return r, awserr.Newf(awserr.NotFound, "Invalid keyId '%s'", raw)
		}
		r.keyID = raw
	}
	return r, nil
}

// ResolveKey finds the key a KeyId parameter names, as seen by the caller
// who asks to perform action on it. Bare key IDs and alias names resolve in
// the caller's account; ARNs name their account, which is how other
// accounts' keys are reached.
//
// A reference to another account's key never tells the caller whether the
// key exists: if action cannot be performed across accounts, or the key or
// alias does not exist, the answer is the one AccessDeniedException that
// AWS gives for every cross-account denial (policy.DenyCrossAccount), the
// same the key policy gives when it does not allow the caller.
func (s *Service) ResolveKey(ctx context.Context, raw *string, kind RefKind, member, action string) (*Key, error) {
	if raw == nil {
		return nil, awserr.ValidationError(awserr.NullViolation(member))
	}
	if len(*raw) == 0 || len(*raw) > 2048 {
		c := awserr.MinLength(1)
		if len(*raw) > 2048 {
			c = awserr.MaxLength(2048)
		}
		return nil, awserr.ValidationError(awserr.Violation(*raw, true, member, c))
	}
	caller := CallerFrom(ctx)
	ref, err := s.parseKeyRef(*raw, kind)
	if err != nil {
		return nil, err
	}
	account := ref.account
	if account == "" {
		account = caller.Account
	}
	foreign := account != caller.Account
	if foreign && !policy.CrossAccountAllowed(action) {
		return nil, policy.DenyCrossAccount(caller.ARN, action)
	}
	id := ref.keyID
	if ref.alias != "" {
		target, err := s.aliases.Get(ctx, aliasRecordID(account, ref.alias))
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				if foreign {
					return nil, policy.DenyCrossAccount(caller.ARN, action)
				}
				if target, err = s.resolveManaged(ctx, account, ref.alias, action); err != nil || target == "" {
					if err != nil {
						return nil, err
					}
					return nil, awserr.Newf(awserr.NotFound, "Alias %s is not found.", s.aliasARN(account, ref.alias))
				}
			} else {
				return nil, s.StoreErr(ctx, err)
			}
		}
		id = target
	}
	lk, err := s.GetKey(ctx, id)
	if err != nil {
		return nil, err
	}
	// A store may be shared by nodes serving different Regions: a key is
	// visible only in its own.
	if lk == nil || lk.doc.Account != account || (lk.doc.Region != "" && lk.doc.Region != s.region) {
		if foreign {
			return nil, policy.DenyCrossAccount(caller.ARN, action)
		}
		return nil, awserr.Newf(awserr.NotFound, "Key '%s' does not exist", s.KeyARN(account, id))
	}
	NoteKey(ctx, lk.arn)
	return lk, nil
}

// beforeAuth returns err, the answer of a check of lk's properties that an
// operation makes before it authorizes action (the order of AWS's errors),
// unless the caller is of another account and may not perform action on
// lk: then it returns that denial, so that the check tells another account
// nothing about a key it may not use.
func (s *Service) beforeAuth(ctx context.Context, lk *Key, action string, conds map[string][]string, tokens []string, err error) error {
	if c := CallerFrom(ctx); c != nil && c.Account != lk.doc.Account {
		if aerr := s.authorizeKey(ctx, lk, action, conds, tokens); aerr != nil {
			return aerr
		}
	}
	return err
}

// RequireUsable checks that a key's state allows cryptographic use.
func RequireUsable(lk *Key) error {
	switch lk.doc.State {
	case StateEnabled:
		return nil
	case StateUpdating:
		// A multi-Region key whose primary Region changes serves as it
		// did before (the Updating column of the key-state table).
		if lk.doc.PriorState != "" && lk.doc.PriorState != StateUpdating {
			return RequireUsable(&Key{doc: &KeyDoc{State: lk.doc.PriorState}, arn: lk.arn})
		}
	case StateDisabled:
		return awserr.Newf(awserr.Disabled, "%s is disabled.", lk.arn)
	case StatePendingDeletion, StatePendingReplicaDeletion:
		return awserr.Newf(awserr.KMSInvalidState, "%s is pending deletion.", lk.arn)
	case StatePendingImport:
		return awserr.Newf(awserr.KMSInvalidState, "%s is pending import.", lk.arn)
	case StateUnavailable:
		return awserr.Newf(awserr.KMSInvalidState, "%s is unavailable.", lk.arn)
	case StateCreating:
		return awserr.Newf(awserr.KMSInvalidState, "%s is creating.", lk.arn)
	}
	return awserr.Newf(awserr.KMSInvalidState, "%s is %s.", lk.arn, strings.ToLower(lk.doc.State))
}

// RefuseUpdating is the check of the operations that fail while a
// multi-Region key's primary Region changes (footnote [15] of the
// key-state table: EnableKey, DisableKey, ScheduleKeyDeletion,
// ReplicateKey, GetParametersForImport, DeleteImportedKeyMaterial).
func RefuseUpdating(d *KeyDoc, arn string) error {
	if d.State == StateUpdating {
		return awserr.Newf(awserr.KMSInvalidState, "%s is updating.", arn)
	}
	return nil
}

// RequireNotPendingDeletion is the check of management operations that fail
// only for keys pending deletion (footnote [3] of the key-state table).
func RequireNotPendingDeletion(d *KeyDoc, arn string) error {
	if d.State == StatePendingDeletion || d.State == StatePendingReplicaDeletion {
		return awserr.Newf(awserr.KMSInvalidState, "%s is pending deletion.", arn)
	}
	return nil
}

// invalidUsage is AWS's InvalidKeyUsageException for using a key for an
// operation its KeyUsage does not allow.
func invalidUsage(lk *Key, op string) error {
	return awserr.Newf(awserr.InvalidKeyUsage, "%s key usage is %s which is not valid for %s.", lk.arn, lk.doc.Usage, op)
}

func (s *Service) NotFoundKey(account, id string) error {
	return awserr.Newf(awserr.NotFound, "Key '%s' does not exist", s.KeyARN(account, id))
}

func requireSameAccount(ctx context.Context, lk *Key, s *Service) error {
	c := CallerFrom(ctx)
	if c.Account != lk.doc.Account {
		return s.NotFoundKey(c.Account, lk.doc.ID)
	}
	return nil
}

// The openings of the operations on a key. Most operations start the same
// way: resolve the key the request names, check what must be checked before
// authorization (AWS's order of errors), authorize, check what must be
// checked after. Three helpers cover the forms that are really the same;
// the operations with an order of their own (Decrypt's ciphertext key,
// ReEncrypt's two keys, CreateGrant's grant decision, RetireGrant's token)
// call ResolveKey and authorizeKey themselves.

// AuthorizedKey resolves the key that ref names (in the forms kind allows)
// and authorizes action on it with conds and tokens: the opening of the
// operations that check nothing of the key before authorizing.
func (s *Service) AuthorizedKey(ctx context.Context, ref *string, kind RefKind, action string, conds map[string][]string, tokens []string) (*Key, error) {
	lk, err := s.ResolveKey(ctx, ref, kind, "keyId", action)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeKey(ctx, lk, action, conds, tokens); err != nil {
		return nil, err
	}
	return lk, nil
}

// OwnedKey resolves a key that only its own account may manage (key ID or
// key ARN, in the request member named member) and authorizes action on it
// with conds: the opening of management operations that are not available
// across accounts. Another account's key is not found, as in AWS.
func (s *Service) OwnedKey(ctx context.Context, ref *string, member, action string, conds map[string][]string) (*Key, error) {
	lk, err := s.ResolveKey(ctx, ref, RefKeyOnly, member, action)
	if err != nil {
		return nil, err
	}
	if err := requireSameAccount(ctx, lk, s); err != nil {
		return nil, err
	}
	if err := s.authorizeKey(ctx, lk, action, conds, nil); err != nil {
		return nil, err
	}
	return lk, nil
}

// usableKey is the opening of the cryptographic operations: it resolves the
// key that ref names, refuses a key whose KeyUsage is not usage
// (InvalidKeyUsageException naming op, unless the caller is of another
// account that may not perform action: see beforeAuth), authorizes action
// with conds and tokens, and checks that the key's state allows
// cryptographic use.
func (s *Service) usableKey(ctx context.Context, ref *string, kind RefKind, action, usage, op string, conds map[string][]string, tokens []string) (*Key, error) {
	lk, err := s.ResolveKey(ctx, ref, kind, "keyId", action)
	if err != nil {
		return nil, err
	}
	if err := s.throttleKey(ctx, lk, op); err != nil {
		return nil, err
	}
	if lk.doc.Usage != usage {
		return nil, s.beforeAuth(ctx, lk, action, conds, tokens, invalidUsage(lk, op))
	}
	if err := s.authorizeKey(ctx, lk, action, conds, tokens); err != nil {
		return nil, err
	}
	if err := RequireUsable(lk); err != nil {
		return nil, err
	}
	if err := fipsKeyError(lk); err != nil {
		return nil, err
	}
	return lk, nil
}
