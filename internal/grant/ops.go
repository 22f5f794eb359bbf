package grant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

const (
	patPrincipal        = `^[\w+=,.@:/-]+$`
	patGrantName        = `^[a-zA-Z0-9:/_-]+$`
	patServicePrincipal = `^([A-Za-z0-9\-]+)\.([A-Za-z0-9\-]+)(\.[A-Za-z0-9\-]+)+$`
)

func principalChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@:/-", c) >= 0) {
			return false
		}
	}
	return s != ""
}

func grantNameChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":/_-", c) >= 0) {
			return false
		}
	}
	return s != ""
}

func servicePrincipalChars(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 3 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// constraintMap checks a grant constraint's encryption context map.
func constraintMap(v *kms.Validator, m map[string]string, member string) {
	if m == nil {
		return
	}
	if len(m) > 8 {
		v.Add("", false, member, "Member must have length less than or equal to 8")
	}
	for k, x := range m {
		if len(k) < 1 || len(k) > 384 || len(x) > 384 {
			v.Add("", false, member, "Map value must satisfy constraint: [Member must have length less than or equal to 384]")
			return
		}
	}
}

func grantNotFound(grantID string) error {
	return awserr.Newf(awserr.NotFound, "Grant ID %s not found", grantID)
}

func invalidGrantID() error {
	return awserr.New(awserr.InvalidGrantID, "Invalid grant ID.")
}

// childWithin reports whether a grant with ops and constraints (eq, sub,
// sourceARN) is no broader than parent: the rule for grants created through
// a grant. A parent constrained to a SourceArn makes only children
// constrained to the same one: otherwise the service it was granted to for
// one resource could grant itself (or anyone) the key for every resource.
func childWithin(parent *grantDoc, ops []string, eq, sub map[string]string, sourceARN string) bool {
	if parent.SourceArn != "" && parent.SourceArn != sourceARN {
		return false
	}
	for _, o := range ops {
		if !slices.Contains(parent.Operations, o) {
			return false
		}
	}
	switch {
	case parent.Equals != nil:
		return eq != nil && maps.Equal(eq, parent.Equals) && (sub == nil || containsPairs(parent.Equals, sub))
	case parent.Subset != nil:
		if eq != nil {
			return containsPairs(eq, parent.Subset)
		}
		return sub != nil && containsPairs(sub, parent.Subset)
	}
	return true
}

// containsPairs reports whether every pair of small is in big.
func containsPairs(big, small map[string]string) bool {
	for k, v := range small {
		if x, ok := big[k]; !ok || x != v {
			return false
		}
	}
	return true
}

// CreateGrant implements the CreateGrant operation. The grant is usable at
// once with the returned token, and on every node within the change feed's
// delay without it. With Name, a retry with identical parameters returns
// the original grant ID (and a new token).
func (s *Service) CreateGrant(ctx context.Context, in *wire.CreateGrantInput) (*wire.CreateGrantOutput, error) {
	var v kms.Validator
	v.Pattern(in.GranteePrincipal, "granteePrincipal", 1, 256, principalChars, patPrincipal)
	v.Pattern(in.RetiringPrincipal, "retiringPrincipal", 1, 256, principalChars, patPrincipal)
	v.Pattern(in.GranteeServicePrincipal, "granteeServicePrincipal", 1, 128, servicePrincipalChars, patServicePrincipal)
	v.Pattern(in.RetiringServicePrincipal, "retiringServicePrincipal", 1, 128, servicePrincipalChars, patServicePrincipal)
	v.Pattern(in.Name, "name", 1, 256, grantNameChars, patGrantName)
	if v.Required(in.Operations != nil, "operations") {
		for _, o := range in.Operations {
			if !grantOperationSet[o] {
				v.Add("["+strings.Join(in.Operations, ", ")+"]", true, "operations",
					"Member must satisfy constraint: ["+awserr.EnumSet(grantOperations)+"]")
				break
			}
		}
	}
	v.GrantTokens(in.GrantTokens)
	var eq, sub map[string]string
	var sourceARN string
	if c := in.Constraints; c != nil {
		constraintMap(&v, c.EncryptionContextEquals, "constraints.encryptionContextEquals")
		constraintMap(&v, c.EncryptionContextSubset, "constraints.encryptionContextSubset")
		eq, sub = c.EncryptionContextEquals, c.EncryptionContextSubset
		if c.SourceArn != nil {
			sourceARN = *c.SourceArn
			v.StrLen(c.SourceArn, "constraints.sourceArn", 20, 512)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case in.GranteePrincipal == nil && in.GranteeServicePrincipal == nil:
		return nil, awserr.ValidationError(awserr.NullViolation("granteePrincipal"))
	case in.GranteePrincipal != nil && in.GranteeServicePrincipal != nil:
		return nil, awserr.New(awserr.Validation, "You cannot specify both GranteePrincipal and GranteeServicePrincipal.")
	case in.RetiringPrincipal != nil && in.RetiringServicePrincipal != nil:
		return nil, awserr.New(awserr.Validation, "You cannot specify both RetiringPrincipal and RetiringServicePrincipal.")
	case in.GranteeServicePrincipal != nil && sourceARN == "":
		return nil, awserr.New(awserr.Validation, "A grant for a service principal requires a SourceArn constraint.")
	case in.GranteeServicePrincipal != nil && in.RetiringPrincipal == nil && in.RetiringServicePrincipal == nil:
		return nil, awserr.New(awserr.Validation, "A grant for a service principal requires a retiring principal.")
	}
	ops := slices.Clone(in.Operations)
	slices.Sort(ops)
	ops = slices.Compact(ops)
	if len(ops) == 0 {
		return nil, awserr.ValidationError(awserr.Violation("[]", true, "operations", awserr.MinLength(1)))
	}
	if eq != nil || sub != nil {
		for _, o := range ops {
			switch o {
			case "Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac", "DeriveSharedSecret", "Encapsulate", "Decapsulate":
				return nil, awserr.Newf(awserr.Validation, "Grant constraints are not supported for the %s operation.", o)
			}
		}
	}
	lk, err := s.kms.ResolveKey(ctx, in.KeyID, kms.RefKeyOnly, "keyId", "kms:CreateGrant")
	if err != nil {
		return nil, err
	}
	caller := kms.CallerFrom(ctx)
	grantee, retiring := deref(in.GranteePrincipal), deref(in.RetiringPrincipal)
	conds := map[string][]string{
		"kms:grantoperations":       ops,
		"kms:grantisforawsresource": {"false"},
		"kms:granteeprincipal":      {grantee + deref(in.GranteeServicePrincipal)},
	}
	if retiring != "" {
		conds["kms:retiringprincipal"] = []string{retiring}
	}
	var ctypes []string
	if eq != nil {
		ctypes = append(ctypes, "EncryptionContextEquals")
	}
	if sub != nil {
		ctypes = append(ctypes, "EncryptionContextSubset")
	}
	if ctypes != nil {
		conds["kms:grantconstrainttype"] = ctypes
	}
	constraintEC := make(map[string]string, len(eq)+len(sub))
	maps.Copy(constraintEC, sub)
	maps.Copy(constraintEC, eq)
	kms.ContextConditions(conds, constraintEC)

	// The key policy (with IAM) decides first; only if it does not allow
	// may a grant that includes CreateGrant allow, and then the new grant
	// must be no broader than that grant.
	var parent *grant
	authErr := s.kms.AuthorizeKeyWithGrant(ctx, lk, "kms:CreateGrant", conds, false)
	if authErr != nil && awserr.CodeOf(authErr) == awserr.AccessDenied {
		parent, err = s.findGrant(ctx, lk, "kms:CreateGrant", conds, in.GrantTokens, func(g *grant) bool {
			return childWithin(&g.doc, ops, eq, sub, sourceARN)
		})
		if err != nil {
			if caller := kms.CallerFrom(ctx); caller != nil && caller.Account != lk.Doc().Account && awserr.CodeOf(err) == awserr.InvalidGrantToken {
				// Another account that may not create grants on the
				// key learns nothing of it from a refused token.
				return nil, authErr
			}
			return nil, err
		}
		if parent != nil {
			authErr = s.kms.AuthorizeKeyWithGrant(ctx, lk, "kms:CreateGrant", conds, true)
		}
	} else if authErr == nil {
		// Tokens must still be valid ones.
		for _, t := range in.GrantTokens {
			if _, err := s.openGrantToken(t); err != nil {
				return nil, err
			}
		}
	}
	if authErr != nil {
		return nil, authErr
	}
	if lk.Doc().Manager == kms.ManagerAWS && (outsideAccount(grantee, lk.Doc().Account) || outsideAccount(retiring, lk.Doc().Account)) {
		// In AWS the service itself decides what it grants on its AWS
		// managed key; in Trent its front end does (docs/services.md).
		// So that a front end's credentials cannot give another account
		// lasting use of the account's key, its grants stay in the
		// account: the refusal the key's policy gives an action it does
		// not allow.
		return nil, awserr.Newf(awserr.AccessDenied, "User: %s is not authorized to perform: kms:CreateGrant on resource: %s because no resource-based policy allows the kms:CreateGrant action", caller.ARN, lk.ARN())
	}
	// Only now, so that a caller the key's policies do not allow (another
	// account's above all) learns nothing of the key's spec and usage.
	if err := grantOperationsFit(lk, in.Operations); err != nil {
		return nil, err
	}
	if parent != nil {
		kms.NoteGrant(ctx, parent.doc.ID)
	}
	switch lk.Doc().State {
	case kms.StateEnabled, kms.StateUnavailable, kms.StateUpdating:
	default:
		if err := kms.RequireUsable(lk); err != nil {
			return nil, err
		}
	}
	granteeID, err := s.bindGrantPrincipal(ctx, grantee)
	if err != nil {
		return nil, err
	}
	retiringID, err := s.bindGrantPrincipal(ctx, retiring)
	if err != nil {
		return nil, err
	}
	d := grantDoc{
		KeyID: lk.Doc().ID, KeyAccount: lk.Doc().Account, Name: deref(in.Name), Grantee: grantee,
		GranteeService: deref(in.GranteeServicePrincipal), Retiring: retiring,
		RetiringService: deref(in.RetiringServicePrincipal), Operations: ops, Equals: eq, Subset: sub,
		SourceArn: sourceARN, IssuingAccount: fmt.Sprintf("arn:%s:iam::%s:root", s.kms.Partition(), caller.Account),
		CreatorPrincipal: caller.ARN,
	}
	if parent != nil {
		d.ParentGrantID = parent.doc.ID
	}
	d.GranteeID, d.RetiringID = granteeID, retiringID
	// Creators of grants on one key queue on this node, so that the
	// idempotency check by name sees the grant a concurrent twin just
	// created; the grant count's IfVersion orders them across nodes.
	var existing *grant
	err = store.Update(ctx, s.kms.Locks(), []string{grantsLock(lk.Doc().ID)}, func() error {
		if d.Name != "" {
			set, err := s.cache.get(ctx, lk.Doc().ID)
			if err != nil {
				return err
			}
			if existing = set.named(d.Name, func(g *grant) bool { return sameGrant(&g.doc, &d) }); existing != nil {
				return nil
			}
		}
		n, countOp, err := s.readGrantCount(ctx, lk.Doc().ID)
		if err != nil {
			return err
		}
		if limit := s.grantLimit(lk.Doc().Account); n >= limit {
			return awserr.Newf(awserr.LimitExceeded, "The request was rejected because the number of grants on %s exceeds the limit of %d.", lk.ARN(), limit)
		}
		if kms.IsTrue(in.DryRun) {
			return kms.DryRun()
		}
		d.ID = kms.NewHexID()
		d.Created = s.kms.Now().UTC()
		data, err := json.Marshal(&d)
		if err != nil {
			return err
		}
		batch := []store.Op{{Kind: kindGrant, ID: grantRecordID(d.KeyID, d.ID), Data: data, Create: true}, grantCountOp(countOp, n+1)}
		if r := d.Retiring + d.RetiringService; r != "" {
			batch = append(batch, store.Op{Kind: kindGrantIndex, ID: grantIndexID(r, d.KeyID, d.ID), Data: []byte("{}"), Create: true})
		}
		err = s.store.Apply(ctx, batch...)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%w: %w", store.ErrConflict, err) // the count was created meanwhile
		}
		return err
	})
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	if existing != nil {
		if kms.IsTrue(in.DryRun) {
			return nil, kms.DryRun()
		}
		tok, err := s.newGrantToken(lk.Doc().ID, existing.doc.ID)
		if err != nil {
			return nil, s.kms.StoreErr(ctx, err)
		}
		return &wire.CreateGrantOutput{GrantToken: tok, GrantID: existing.doc.ID}, nil
	}
	s.cache.added(newGrant(d))
	tok, err := s.newGrantToken(d.KeyID, d.ID)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	return &wire.CreateGrantOutput{GrantToken: tok, GrantID: d.ID}, nil
}

// sameGrant reports whether two grants have identical parameters (the Name
// idempotency rule of CreateGrant).
func sameGrant(a, b *grantDoc) bool {
	return a.Name == b.Name && a.Grantee == b.Grantee && a.GranteeService == b.GranteeService &&
		a.Retiring == b.Retiring && a.RetiringService == b.RetiringService && slices.Equal(a.Operations, b.Operations) &&
		(a.Equals == nil) == (b.Equals == nil) && maps.Equal(a.Equals, b.Equals) &&
		(a.Subset == nil) == (b.Subset == nil) && maps.Equal(a.Subset, b.Subset) && a.SourceArn == b.SourceArn &&
		a.GranteeID == b.GranteeID && a.RetiringID == b.RetiringID
}

// bindGrantPrincipal resolves a grantee or retiring principal ARN to the
// unique ID of the principal it names, which the grant stores so that a
// principal deleted and re-created under the same name is not its grantee
// or retiring principal (AWS binds grant principals the same way: ListGrants
// shows the unique ID once the principal is gone). A user, role or role
// session ARN naming no existing principal is refused with
// InvalidArnException, AWS's answer; other principals (account roots) are
// not bound. Without a PrincipalResolver nothing is bound.
func (s *Service) bindGrantPrincipal(ctx context.Context, arn string) (string, error) {
	r := s.kms.Resolver()
	if r == nil || arn == "" {
		return "", nil
	}
	id, bindable, err := r.PrincipalID(ctx, arn)
	if err != nil {
		return "", s.kms.StoreErr(ctx, err)
	}
	if bindable && id == "" {
		return "", awserr.Newf(awserr.InvalidArn, "ARN does not refer to a valid principal: %s", arn)
	}
	return id, nil
}

// stillBound reports whether arn, bound to id in a grant, still names that
// principal; an unbound one (id "") always does. seen is showUnbound's
// memo.
func (s *Service) stillBound(ctx context.Context, arn, id string, seen map[string]string) (bool, error) {
	r := s.kms.Resolver()
	if r == nil || id == "" {
		return true, nil
	}
	cur, ok := seen[arn]
	if !ok {
		var err error
		if cur, _, err = r.PrincipalID(ctx, arn); err != nil {
			return false, s.kms.StoreErr(ctx, err)
		}
		seen[arn] = cur
	}
	return cur == id, nil
}

// showUnbound makes a grant list entry show, as AWS does, the unique ID a
// grantee or retiring principal was bound to in place of its ARN once that
// principal no longer exists (or was re-created). seen memoizes the current
// ID of each ARN for one listing.
func (s *Service) showUnbound(ctx context.Context, e *wire.GrantListEntry, d *grantDoc, seen map[string]string) error {
	for _, x := range []struct {
		arn, id string
		out     *string
	}{{d.Grantee, d.GranteeID, &e.GranteePrincipal}, {d.Retiring, d.RetiringID, &e.RetiringPrincipal}} {
		ok, err := s.stillBound(ctx, x.arn, x.id, seen)
		if err != nil {
			return err
		}
		if !ok {
			*x.out = x.id
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// grantEntry returns the GrantListEntry of a grant.
func (s *Service) grantEntry(d *grantDoc) wire.GrantListEntry {
	e := wire.GrantListEntry{
		KeyID: s.kms.KeyARN(d.KeyAccount, d.KeyID), GrantID: d.ID, Name: d.Name, CreationDate: wire.TS(d.Created),
		GranteePrincipal: d.Grantee, RetiringPrincipal: d.Retiring, IssuingAccount: d.IssuingAccount,
		Operations: d.Operations, GranteeServicePrincipal: d.GranteeService, RetiringServicePrincipal: d.RetiringService,
	}
	if d.Equals != nil || d.Subset != nil || d.SourceArn != "" {
		e.Constraints = &wire.GrantConstraints{EncryptionContextEquals: d.Equals, EncryptionContextSubset: d.Subset}
		if d.SourceArn != "" {
			src := d.SourceArn
			e.Constraints.SourceArn = &src
		}
	}
	return e
}

// ListGrants implements the ListGrants operation: the grants of one key,
// in grant ID order, optionally filtered by grant ID and grantee.
func (s *Service) ListGrants(ctx context.Context, in *wire.ListGrantsInput) (*wire.ListGrantsOutput, error) {
	var v kms.Validator
	limit := kms.PageLimit(&v, in.Limit, 1000, 50)
	v.StrLen(in.Marker, "marker", 1, 1024)
	v.StrLen(in.GrantID, "grantId", 1, 128)
	v.Pattern(in.GranteePrincipal, "granteePrincipal", 1, 256, principalChars, patPrincipal)
	v.Pattern(in.GranteeServicePrincipal, "granteeServicePrincipal", 1, 128, servicePrincipalChars, patServicePrincipal)
	if err := v.Err(); err != nil {
		return nil, err
	}
	conds := map[string][]string{"kms:grantisforawsresource": {"false"}}
	lk, err := s.kms.AuthorizedKey(ctx, in.KeyID, kms.RefKeyOnly, "kms:ListGrants", conds, nil)
	if err != nil {
		return nil, err
	}
	if in.GrantID != nil && !validGrantID(*in.GrantID) {
		return nil, invalidGrantID()
	}
	after := ""
	if in.Marker != nil {
		if !validGrantID(*in.Marker) {
			return nil, awserr.New(awserr.InvalidMarker, "Invalid marker")
		}
		after = grantRecordID(lk.Doc().ID, *in.Marker)
	}
	recs, err := s.store.List(ctx, kindGrant, lk.Doc().ID+"/", after, 0)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	out := &wire.ListGrantsOutput{Grants: []wire.GrantListEntry{}}
	seen := map[string]string{}
	for _, r := range recs {
		var d grantDoc
		if json.Unmarshal(r.Data, &d) != nil {
			continue
		}
		if (in.GrantID != nil && d.ID != *in.GrantID) ||
			(in.GranteePrincipal != nil && d.Grantee != *in.GranteePrincipal) ||
			(in.GranteeServicePrincipal != nil && d.GranteeService != *in.GranteeServicePrincipal) {
			continue
		}
		if in.GranteePrincipal != nil {
			// The ARN names its principal of today, not a deleted one.
			ok, err := s.stillBound(ctx, d.Grantee, d.GranteeID, seen)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		if len(out.Grants) == limit {
			out.Truncated = true
			out.NextMarker = out.Grants[limit-1].GrantID
			break
		}
		e := s.grantEntry(&d)
		if err := s.showUnbound(ctx, &e, &d, seen); err != nil {
			return nil, err
		}
		out.Grants = append(out.Grants, e)
	}
	return out, nil
}

// ListRetirableGrants implements the ListRetirableGrants operation: the
// grants, on keys of any account, whose retiring principal is the given one.
func (s *Service) ListRetirableGrants(ctx context.Context, in *wire.ListRetirableGrantsInput) (*wire.ListGrantsOutput, error) {
	var v kms.Validator
	limit := kms.PageLimit(&v, in.Limit, 1000, 50)
	v.StrLen(in.Marker, "marker", 1, 1024)
	v.Pattern(in.RetiringPrincipal, "retiringPrincipal", 1, 256, principalChars, patPrincipal)
	v.Pattern(in.RetiringServicePrincipal, "retiringServicePrincipal", 1, 128, servicePrincipalChars, patServicePrincipal)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.RetiringPrincipal == nil && in.RetiringServicePrincipal == nil {
		return nil, awserr.ValidationError(awserr.NullViolation("retiringPrincipal"))
	}
	if err := s.kms.AuthorizeAccount(ctx, "kms:ListRetirableGrants", nil); err != nil {
		return nil, err
	}
	principal := deref(in.RetiringPrincipal) + deref(in.RetiringServicePrincipal)
	// AWS authorizes the call on the retiring principal, which must be a
	// principal of the caller's account; the grants listed may be on keys
	// of any account. The RetiringServicePrincipal filter is only for
	// callers that are service principals, and Trent has none.
	if caller := kms.CallerFrom(ctx); in.RetiringServicePrincipal != nil || !s.principalOfAccount(principal, caller.Account) {
		return nil, policy.DenyNoResourcePolicy(caller.ARN, "kms:ListRetirableGrants", principal)
	}
	prefix := principal + " "
	after := ""
	if in.Marker != nil {
		keyID, grantID, ok := strings.Cut(*in.Marker, "/")
		if !ok || !kms.ValidKeyID(keyID) || !validGrantID(grantID) {
			return nil, awserr.New(awserr.InvalidMarker, "Invalid marker")
		}
		after = prefix + *in.Marker
	}
	out := &wire.ListGrantsOutput{Grants: []wire.GrantListEntry{}}
	seen := map[string]string{}
	for {
		recs, err := s.store.List(ctx, kindGrantIndex, prefix, after, limit+1)
		if err != nil {
			return nil, s.kms.StoreErr(ctx, err)
		}
		for _, r := range recs {
			after = r.ID
			ref := strings.TrimPrefix(r.ID, prefix)
			keyID, grantID, _ := strings.Cut(ref, "/")
			g, err := s.getGrant(ctx, keyID, grantID)
			if err != nil {
				return nil, s.kms.StoreErr(ctx, err)
			}
			if g == nil {
				continue // the grant went away with its key
			}
			ok, err := s.stillBound(ctx, g.doc.Retiring, g.doc.RetiringID, seen)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue // its retiring principal is gone: the ARN names another
			}
			if len(out.Grants) == limit {
				out.Truncated = true
				last := out.Grants[limit-1]
				out.NextMarker = arn.Name(last.KeyID) + "/" + last.GrantID
				return out, nil
			}
			e := s.grantEntry(&g.doc)
			if err := s.showUnbound(ctx, &e, &g.doc, seen); err != nil {
				return nil, err
			}
			out.Grants = append(out.Grants, e)
		}
		if len(recs) < limit+1 {
			return out, nil
		}
	}
}

// principalOfAccount reports whether arn is the ARN of a principal of
// account in this partition: arn:PARTITION:iam::ACCOUNT:... (the root, a
// user or a role) or arn:PARTITION:sts::ACCOUNT:... (a role session).
func (s *Service) principalOfAccount(principal, account string) bool {
	a, ok := arn.Parse(principal)
	if !ok || a.Partition != s.kms.Partition() || a.Region != "" || a.Resource == "" {
		return false
	}
	return (a.Service == "iam" || a.Service == "sts") && a.Account == account
}

// RetireGrant implements the RetireGrant operation: by grant token, or by
// key and grant ID. The retiring principal, a grantee whose grant includes
// RetireGrant, or a principal the key policy allows kms:RetireGrant may
// retire a grant.
func (s *Service) RetireGrant(ctx context.Context, in *wire.RetireGrantInput) (*struct{}, error) {
	var v kms.Validator
	v.StrLen(in.GrantToken, "grantToken", 1, 8192)
	v.StrLen(in.GrantID, "grantId", 1, 128)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var lk *kms.Key
	var grantID string
	switch {
	case in.GrantToken != nil:
		info, err := s.openGrantToken(*in.GrantToken)
		if err != nil {
			return nil, err
		}
		grantID = info.grantID
		if lk, err = s.kms.GetKey(ctx, info.keyID); err != nil {
			return nil, err
		}
		if lk == nil {
			return nil, grantNotFound(grantID)
		}
		kms.NoteKey(ctx, lk.ARN())
	case in.KeyID != nil && in.GrantID != nil:
		var err error
		// The grant ID's form is checked first: after the key is found it
		// would tell another account that the key exists.
		if !validGrantID(*in.GrantID) {
			return nil, invalidGrantID()
		}
		if lk, err = s.kms.ResolveKey(ctx, in.KeyID, kms.RefKeyOnly, "keyId", "kms:RetireGrant"); err != nil {
			return nil, err
		}
		grantID = *in.GrantID
	default:
		return nil, awserr.New(awserr.Validation, "Either the grant token or both the key ID and the grant ID must be specified.")
	}
	g, err := s.getGrant(ctx, lk.Doc().ID, grantID)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	c := kms.CallerFrom(ctx)
	if g == nil {
		if in.GrantToken == nil && c.Account != lk.Doc().Account {
			// Another account's key: which grants it has is for its
			// policy to reveal.
			if err := s.kms.AuthorizeKeyWithGrant(ctx, lk, "kms:RetireGrant", nil, false); err != nil {
				return nil, err
			}
		}
		return nil, grantNotFound(grantID)
	}
	p := policy.Principal{ARN: c.ARN, Account: c.Account, Type: policy.PrincipalType(c.Type), RoleARN: c.RoleARN, UserID: c.PrincipalID}
	retirer := policy.Grant{GranteePrincipal: g.doc.Retiring, GranteeID: g.doc.RetiringID, Operations: []string{"RetireGrant"}}
	// A service principal is its own account's front end of the service
	// (docs/services.md): a grant on another account's key that names the
	// service, as grantee or retiring principal, does not reach it, and
	// the key's policies decide (the one cross-account denial). As grantee
	// it holds a grant constrained to a SourceArn only for that resource,
	// as it does for every other operation (findGrant).
	foreignService := (c.Service != "" || p.Type == policy.TypeAWSService) && c.Account != lk.Doc().Account
	mayRetire := !foreignService && (retirer.Allows(p, "RetireGrant", nil) ||
		((g.doc.SourceArn == "" || g.doc.SourceArn == c.SourceARN) && g.pg.Allows(p, "RetireGrant", nil)))
	if mayRetire {
		kms.NoteGrant(ctx, g.doc.ID)
	} else if err := s.kms.AuthorizeKeyWithGrant(ctx, lk, "kms:RetireGrant", nil, false); err != nil {
		return nil, err
	}
	if kms.IsTrue(in.DryRun) {
		return nil, kms.DryRun()
	}
	return &struct{}{}, s.deleteGrant(ctx, g)
}

// RevokeGrant implements the RevokeGrant operation.
func (s *Service) RevokeGrant(ctx context.Context, in *wire.RevokeGrantInput) (*struct{}, error) {
	var v kms.Validator
	if v.Required(in.GrantID != nil, "grantId") {
		v.StrLen(in.GrantID, "grantId", 1, 128)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	conds := map[string][]string{"kms:grantisforawsresource": {"false"}}
	lk, err := s.kms.AuthorizedKey(ctx, in.KeyID, kms.RefKeyOnly, "kms:RevokeGrant", conds, nil)
	if err != nil {
		return nil, err
	}
	if !validGrantID(*in.GrantID) {
		return nil, invalidGrantID()
	}
	g, err := s.getGrant(ctx, lk.Doc().ID, *in.GrantID)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	if g == nil {
		return nil, grantNotFound(*in.GrantID)
	}
	if kms.IsTrue(in.DryRun) {
		return nil, kms.DryRun()
	}
	return &struct{}{}, s.deleteGrant(ctx, g)
}

// deleteGrant removes a grant, its index entry and its place in the key's
// grant count. A grant already gone is not an error.
func (s *Service) deleteGrant(ctx context.Context, g *grant) error {
	keyID, id := g.doc.KeyID, grantRecordID(g.doc.KeyID, g.doc.ID)
	err := store.Update(ctx, s.kms.Locks(), []string{grantsLock(keyID)}, func() error {
		rec, err := s.store.Get(ctx, kindGrant, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		n, countOp, err := s.readGrantCount(ctx, keyID)
		if err != nil {
			return err
		}
		ops := []store.Op{{Kind: kindGrant, ID: id, Delete: true, IfVersion: rec.Version}, grantCountOp(countOp, max(n-1, 0))}
		if r := g.doc.Retiring + g.doc.RetiringService; r != "" {
			ops = append(ops, store.Op{Kind: kindGrantIndex, ID: grantIndexID(r, keyID, g.doc.ID), Delete: true})
		}
		err = s.store.Apply(ctx, ops...)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		return err
	})
	if err != nil {
		return s.kms.StoreErr(ctx, err)
	}
	s.cache.removed(keyID, g.doc.ID)
	return nil
}

// grantCountDoc is the stored number of a key's grants.
type grantCountDoc struct {
	N int `json:"n"`
}

// readGrantCount returns the number of grants of keyID and the op that
// rewrites it on the condition that it has not changed meanwhile (Kind, ID
// and IfVersion or Create set; grantCountOp sets Data). A key whose count
// was never written (grants stored by an earlier version) is counted: the
// count is read before the grants, so a writer that changes them meanwhile
// also creates the count and makes this caller's Create fail.
func (s *Service) readGrantCount(ctx context.Context, keyID string) (int, store.Op, error) {
	op := store.Op{Kind: kindGrantCount, ID: keyID}
	rec, err := s.store.Get(ctx, kindGrantCount, keyID)
	switch {
	case err == nil:
		var d grantCountDoc
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return 0, op, fmt.Errorf("kms: decode grant count of key %s: %w", keyID, err)
		}
		op.IfVersion = rec.Version
		return d.N, op, nil
	case !errors.Is(err, store.ErrNotFound):
		return 0, op, err
	}
	op.Create = true
	n := 0
	err = store.EachIn(ctx, s.store, kindGrant, keyID+"/", func(store.Record) error { n++; return nil })
	return n, op, err
}

// grantCountOp returns op writing the count n.
func grantCountOp(op store.Op, n int) store.Op {
	op.Data, _ = json.Marshal(grantCountDoc{N: n})
	return op
}

// grantOperationsByUsage lists the grant operations that fit a key, by its
// KeyUsage (and for ENCRYPT_DECRYPT, whether it is symmetric). CreateGrant,
// RetireGrant and DescribeKey fit every key.
var grantOperationsByUsage = map[string][]string{
	"SYMMETRIC": {"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
		"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"},
	"ENCRYPT_DECRYPT":         {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"},
	"SIGN_VERIFY":             {"Sign", "Verify", "GetPublicKey"},
	"GENERATE_VERIFY_MAC":     {"GenerateMac", "VerifyMac"},
	"KEY_AGREEMENT":           {"DeriveSharedSecret", "GetPublicKey"},
	"ENCAPSULATE_DECAPSULATE": {"Encapsulate", "Decapsulate", "GetPublicKey"},
}

// grantOperationsFit rejects grant operations the key cannot perform, as
// AWS does (a Sign grant on a symmetric key is a ValidationException).
func grantOperationsFit(lk *kms.Key, ops []string) error {
	usage := lk.Doc().Usage
	if lk.Doc().Spec == kms.SymmetricDefault {
		usage = "SYMMETRIC"
	}
	var bad []string
	for _, op := range ops {
		if op == "CreateGrant" || op == "RetireGrant" || op == "DescribeKey" || slices.Contains(grantOperationsByUsage[usage], op) {
			continue
		}
		bad = append(bad, op)
	}
	if len(bad) > 0 {
		return awserr.Newf(awserr.Validation, "Grant operations %s are not valid for a KMS key with KeySpec %s and KeyUsage %s.",
			strings.Join(bad, ", "), lk.Doc().Spec, lk.Doc().Usage)
	}
	return nil
}

// outsideAccount reports whether the IAM principal p (an ARN, as
// GranteePrincipal and RetiringPrincipal give it) is of an account other
// than account. "" (no principal) and a service principal
// ("ebs.amazonaws.com") are not.
func outsideAccount(p, account string) bool {
	if p == "" || !strings.Contains(p, ":") && strings.HasSuffix(p, ".amazonaws.com") {
		return false
	}
	a, ok := arn.Parse(p)
	return !ok || a.Account != account
}
