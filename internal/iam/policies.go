package iam

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
)

// policyDoc is the stored form of an inline policy.
type policyDoc struct {
	Document string `json:"document"`
}

// ownerKind describes the two kinds of IAM entity that own policies:
// users and roles.
type ownerKind struct {
	kind, policyKind string
	label, title     string // "user" and "User" in messages and cache keys
	field            string // the request parameter that names one
	maxBytes         int    // the quota of its inline policies
}

var (
	userOwner = ownerKind{kind: KindUser, policyKind: KindUserPolicy, label: "user", title: "User", field: "userName", maxBytes: MaxUserPolicyBytes}
	roleOwner = ownerKind{kind: KindRole, policyKind: KindRolePolicy, label: "role", title: "Role", field: "roleName", maxBytes: MaxRolePolicyBytes}
)

// policySize counts a policy as AWS does for its quotas: without whitespace.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// ownerRecord reads the owning user or role record (raw, for touching).
func (d *Directory) ownerRecord(ctx context.Context, o ownerKind, account, name string) (store.Record, error) {
	if err := validName(name, o.field, 64); err != nil {
		return store.Record{}, err
	}
	rec, err := d.store.Get(ctx, o.kind, account+"/"+name)
	if errors.Is(err, store.ErrNotFound) {
		return rec, noSuchEntity("The %s with name %s cannot be found.", o.label, name)
	}
	if err == nil {
		err = checkTarget(ctx, o.kind, account, name, func() string {
			var owner struct {
				UserID string `json:"userId"`
				RoleID string `json:"roleId"`
			}
			json.Unmarshal(rec.Data, &owner)
			return owner.UserID + owner.RoleID
		})
	}
	return rec, err
}

func checkIdentityPolicy(doc string) error {
	if _, err := policy.ParseIdentity(doc); err != nil {
		if e := awserr.As(err); e != nil {
			return awserr.New(CodeMalformedPolicyDocument, e.Message)
		}
		return err
	}
	return nil
}

func (d *Directory) putPolicy(ctx context.Context, o ownerKind, account, owner, name, doc string) error {
	if err := validName(name, "policyName", 128); err != nil {
		return err
	}
	if err := checkIdentityPolicy(doc); err != nil {
		return err
	}
	data, _ := json.Marshal(policyDoc{Document: doc})
	return d.update(ctx, func() error {
		rec, err := d.ownerRecord(ctx, o, account, owner)
		if err != nil {
			return err
		}
		others, err := d.store.List(ctx, o.policyKind, account+"/"+owner+"/", "", 0)
		if err != nil {
			return err
		}
		total := policySize(doc)
		for _, r := range others {
			if strings.HasSuffix(r.ID, "/"+name) {
				continue
			}
			var p policyDoc
			if json.Unmarshal(r.Data, &p) == nil {
				total += policySize(p.Document)
			}
		}
		if total > o.maxBytes {
			return awserr.Newf(CodeLimitExceeded, "Maximum policy size of %d bytes exceeded for %s %s", o.maxBytes, o.label, owner)
		}
		// Touching the owner orders this write against every other
		// write of its policies, so the size quota holds.
		err = d.store.Apply(ctx,
			store.Op{Kind: o.policyKind, ID: account + "/" + owner + "/" + name, Data: data},
			store.Op{Kind: o.kind, ID: rec.ID, Data: rec.Data, IfVersion: rec.Version})
		d.pols.Invalidate(o.label + "/" + account + "/" + owner)
		return err
	}, o.kind, account+"/"+owner)
}

func (d *Directory) getPolicy(ctx context.Context, o ownerKind, account, owner, name string) (string, error) {
	if _, err := d.ownerRecord(ctx, o, account, owner); err != nil {
		return "", err
	}
	if err := validName(name, "policyName", 128); err != nil {
		return "", err
	}
	var p policyDoc
	if _, err := d.getJSON(ctx, o.policyKind, account+"/"+owner+"/"+name, &p); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", noSuchEntity("The %s policy with name %s cannot be found.", o.label, name)
		}
		return "", err
	}
	return p.Document, nil
}

func (d *Directory) deletePolicy(ctx context.Context, o ownerKind, account, owner, name string) error {
	if _, err := d.getPolicy(ctx, o, account, owner, name); err != nil {
		return err
	}
	err := d.store.Apply(ctx, store.Op{Kind: o.policyKind, ID: account + "/" + owner + "/" + name, Delete: true})
	d.pols.Invalidate(o.label + "/" + account + "/" + owner)
	return err
}

func (d *Directory) listPolicies(ctx context.Context, o ownerKind, account, owner string) ([]string, error) {
	if _, err := d.ownerRecord(ctx, o, account, owner); err != nil {
		return nil, err
	}
	recs, err := d.store.List(ctx, o.policyKind, account+"/"+owner+"/", "", 0)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(recs))
	for i, r := range recs {
		names[i] = r.ID[strings.LastIndexByte(r.ID, '/')+1:]
	}
	return names, nil
}

// PutUserPolicy creates or replaces an inline policy of a user. It returns
// NoSuchEntity for an unknown user, MalformedPolicyDocument for a document
// that is not a valid identity policy, and LimitExceeded when the user's
// policies together exceed MaxUserPolicyBytes.
func (d *Directory) PutUserPolicy(ctx context.Context, account, user, name, doc string) error {
	return d.putPolicy(ctx, userOwner, account, user, name, doc)
}

// GetUserPolicy returns an inline policy document of a user, or
// NoSuchEntity.
func (d *Directory) GetUserPolicy(ctx context.Context, account, user, name string) (string, error) {
	return d.getPolicy(ctx, userOwner, account, user, name)
}

// DeleteUserPolicy deletes an inline policy of a user, or returns
// NoSuchEntity.
func (d *Directory) DeleteUserPolicy(ctx context.Context, account, user, name string) error {
	return d.deletePolicy(ctx, userOwner, account, user, name)
}

// ListUserPolicies returns the names of a user's inline policies in order.
func (d *Directory) ListUserPolicies(ctx context.Context, account, user string) ([]string, error) {
	return d.listPolicies(ctx, userOwner, account, user)
}

// PutRolePolicy creates or replaces an inline policy of a role, with the
// errors of PutUserPolicy (the quota is MaxRolePolicyBytes).
func (d *Directory) PutRolePolicy(ctx context.Context, account, role, name, doc string) error {
	return d.putPolicy(ctx, roleOwner, account, role, name, doc)
}

// GetRolePolicy returns an inline policy document of a role, or
// NoSuchEntity.
func (d *Directory) GetRolePolicy(ctx context.Context, account, role, name string) (string, error) {
	return d.getPolicy(ctx, roleOwner, account, role, name)
}

// DeleteRolePolicy deletes an inline policy of a role, or returns
// NoSuchEntity.
func (d *Directory) DeleteRolePolicy(ctx context.Context, account, role, name string) error {
	return d.deletePolicy(ctx, roleOwner, account, role, name)
}

// ListRolePolicies returns the names of a role's inline policies in order.
func (d *Directory) ListRolePolicies(ctx context.Context, account, role string) ([]string, error) {
	return d.listPolicies(ctx, roleOwner, account, role)
}

// policyKey returns the cache key of caller's identity policies, or "" for
// principals that have none.
func policyKey(c *kms.Caller) string {
	switch c.Type {
	case TypeIAMUser:
		return "user/" + c.Account + "/" + c.UserName
	case TypeAssumedRole:
		return "role/" + c.Account + "/" + arn.Name(c.RoleARN)
	}
	return ""
}

// ownerPolicies is a cache entry: the owner's unique ID (empty when the
// owner does not exist) and its policy documents. notBefore is a role's
// SessionsNotBefore in the form of kms.Caller.TokenIssueTime (RFC 3339,
// UTC, whole seconds), which orders as the times do; "" if unset.
type ownerPolicies struct {
	ownerID   string
	docs      []string
	notBefore string
}

// loadPolicies is the policy cache's loader; id is a policyKey.
func (d *Directory) loadPolicies(ctx context.Context, id string) (*ownerPolicies, int64, error) {
	o := userOwner
	if strings.HasPrefix(id, "role/") {
		o = roleOwner
	}
	name := id[strings.IndexByte(id, '/')+1:]
	out := &ownerPolicies{}
	rec, err := d.store.Get(ctx, o.kind, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return out, 0, nil
	case err != nil:
		return nil, 0, err
	}
	var owner struct {
		UserID    string    `json:"userId"`
		RoleID    string    `json:"roleId"`
		NotBefore time.Time `json:"sessionsNotBefore"`
	}
	if err := json.Unmarshal(rec.Data, &owner); err != nil {
		return nil, 0, err
	}
	out.ownerID = owner.UserID + owner.RoleID
	if !owner.NotBefore.IsZero() {
		out.notBefore = owner.NotBefore.UTC().Format(time.RFC3339)
	}
	recs, err := d.store.List(ctx, o.policyKind, name+"/", "", 0)
	if err != nil {
		return nil, 0, err
	}
	out.docs = make([]string, 0, len(recs))
	for _, r := range recs {
		var p policyDoc
		if err := json.Unmarshal(r.Data, &p); err != nil {
			return nil, 0, err
		}
		out.docs = append(out.docs, p.Document)
	}
	return out, rec.Version, nil
}

// IdentityPolicies returns the IAM policy documents that apply to caller:
// the inline policies of an IAM user, or of the role behind an assumed-role
// session. The account root has none (it needs none: key policies name it).
// A session whose role was deleted (or deleted and re-created under the
// same name: the role ID differs, as in AWS) has none, and so has a session
// issued before the principals file adopted its role (Role.SessionsNotBefore:
// the session may be the previous owner's). The result is
// cached (coherent through the change feed, see Watch) and must not be
// modified. Errors are store failures only.
func (d *Directory) IdentityPolicies(ctx context.Context, caller *kms.Caller) ([]string, error) {
	key := policyKey(caller)
	if key == "" {
		return nil, nil
	}
	p, err := d.pols.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if p.ownerID == "" {
		return nil, nil
	}
	if caller.PrincipalID != "" && caller.PrincipalID != p.ownerID && !strings.HasPrefix(caller.PrincipalID, p.ownerID+":") {
		return nil, nil
	}
	if p.notBefore != "" && caller.Type == TypeAssumedRole && caller.TokenIssueTime < p.notBefore {
		return nil, nil
	}
	return p.docs, nil
}

// invalidatePolicy maps a changed policy record to its cache entry.
func (d *Directory) invalidatePolicy(label string) func(id string) {
	return func(id string) {
		if i := strings.LastIndexByte(id, '/'); i > 0 {
			d.pols.Invalidate(label + "/" + id[:i])
		}
	}
}

// Watch registers the directory's cache invalidations with a change feed:
// on is called once per record kind whose changes must reach the caches
// (kms.Service.OnChange has this shape).
func (d *Directory) Watch(on func(kind string, fn func(id string))) {
	on(KindAccessKey, d.Invalidate)
	on(KindUser, func(id string) { d.pols.Invalidate("user/" + id) })
	on(KindRole, func(id string) { d.pols.Invalidate("role/" + id) })
	on(KindUserPolicy, d.invalidatePolicy("user"))
	on(KindRolePolicy, d.invalidatePolicy("role"))
}

// AuthorizeIAM decides whether caller may perform an IAM or STS action
// (iam:CreateUser) on resource (an IAM ARN, or "*"). The account root may do
// everything in its own account; other principals need an identity policy
// that allows the action. It returns an *awserr.Error with code
// AccessDenied and AWS's message on denial.
func (d *Directory) AuthorizeIAM(ctx context.Context, caller *kms.Caller, action, resource string) error {
	docs, err := d.IdentityPolicies(ctx, caller)
	if err != nil {
		return err
	}
	ps := make([]*policy.Policy, 0, len(docs))
	for _, doc := range docs {
		p, err := d.pcache.ParseIdentity(doc)
		if err != nil {
			continue // stored documents were validated; a bad one allows nothing
		}
		ps = append(ps, p)
	}
	req := &policy.Request{Action: action, Resource: resource, Principal: PolicyPrincipal(caller), Context: d.requestValues(caller)}
	if err := policy.Authorize(req, policy.Input{Identity: ps}); err != nil {
		if e := awserr.As(err); e != nil {
			return awserr.New(CodeAccessDenied, e.Message)
		}
		return err
	}
	return nil
}

// requestValues returns the global condition keys of an IAM or STS request
// by caller that do not come from the principal: aws:SourceIp,
// aws:SecureTransport, aws:UserAgent, aws:RequestedRegion, aws:CurrentTime
// and aws:EpochTime, as
// KMS requests have them. Without them a guardrail such as "Deny * if Bool
// aws:SecureTransport false" or "Deny * if DateGreaterThan aws:CurrentTime
// EXPIRY" would never apply to IAM actions (a condition on a missing key is
// false): it would fail open.
func (d *Directory) requestValues(caller *kms.Caller) policy.Values {
	now := d.now()
	v := policy.Values{
		"aws:securetransport": {strconv.FormatBool(caller.SecureTransport)},
		"aws:currenttime":     {now.UTC().Format(time.RFC3339)},
		"aws:epochtime":       {strconv.FormatInt(now.Unix(), 10)},
	}
	if caller.SourceIP != "" {
		v["aws:sourceip"] = []string{caller.SourceIP}
	}
	if caller.UserAgent != "" {
		v["aws:useragent"] = []string{caller.UserAgent}
	}
	if caller.Region != "" {
		v["aws:requestedregion"] = []string{caller.Region}
	}
	return v
}

// PolicyPrincipal returns the policy engine's view of caller.
func PolicyPrincipal(c *kms.Caller) policy.Principal {
	p := policy.Principal{ARN: c.ARN, Account: c.Account, Type: policy.PrincipalType(c.Type), RoleARN: c.RoleARN, UserID: c.PrincipalID,
		TokenIssueTime: c.TokenIssueTime}
	return p
}
