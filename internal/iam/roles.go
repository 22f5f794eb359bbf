package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
)

// Session duration bounds of AssumeRole.
const (
	MinSessionDuration     = 900 * time.Second
	DefaultSessionDuration = 3600 * time.Second
	MaxSessionDuration     = 43200 * time.Second
)

// KindSession indexes temporary credentials by expiry (EXPIRY/AKID, with
// EXPIRY in a sortable UTC form) so expired ones can be swept.
const KindSession = "sessionidx"

// withTrustResource returns a trust policy with Resource "*" added to every
// statement that has neither Resource nor NotResource: trust policies omit
// the resource (it is the role), but the policy engine treats a statement
// without one as matching nothing. A document that is not a JSON object is
// returned unchanged for the parser to reject.
func withTrustResource(doc string) string {
	var top map[string]json.RawMessage
	if json.Unmarshal([]byte(doc), &top) != nil {
		return doc
	}
	raw, ok := top["Statement"]
	if !ok {
		return doc
	}
	fix := func(r json.RawMessage) json.RawMessage {
		var st map[string]json.RawMessage
		if json.Unmarshal(r, &st) != nil {
			return r
		}
		_, a := st["Resource"]
		_, b := st["NotResource"]
		if a || b {
			return r
		}
		st["Resource"] = json.RawMessage(`"*"`)
		out, _ := json.Marshal(st)
		return out
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for i := range list {
			list[i] = fix(list[i])
		}
		top["Statement"], _ = json.Marshal(list)
	} else {
		top["Statement"] = fix(raw)
	}
	out, err := json.Marshal(top)
	if err != nil {
		return doc
	}
	return string(out)
}

// parseTrust parses a role trust policy, or returns MalformedPolicyDocument.
func parseTrust(doc string) (*policy.Policy, error) {
	if policySize(doc) > MaxTrustPolicyBytes {
		return nil, awserr.Newf(CodeLimitExceeded, "Cannot exceed quota for ACLSizePerRole: %d", MaxTrustPolicyBytes)
	}
	p, err := policy.Parse(withTrustResource(doc))
	if err != nil {
		if e := awserr.As(err); e != nil {
			return nil, awserr.New(CodeMalformedPolicyDocument, e.Message)
		}
		return nil, err
	}
	// Parsed as a resource policy (it names principals), but an IAM
	// policy: IAM's Sid rule applies.
	for _, s := range p.Statements {
		if !policy.ValidIAMSid(s.Sid) {
			return nil, awserr.New(CodeMalformedPolicyDocument, policy.MsgSidNotAlphanumeric)
		}
	}
	return p, nil
}

// RoleInput describes a role to create.
type RoleInput struct {
	Account     string
	Name        string
	Path        string
	Description string
	// TrustPolicy is the AssumeRolePolicyDocument.
	TrustPolicy string
	// MaxSessionDuration in seconds; 0 means 3600.
	MaxSessionDuration int

	// declared marks the role as the principals file's (Role.Declared).
	declared bool
}

// CreateRole creates a role. It returns EntityAlreadyExists,
// MalformedPolicyDocument for a bad trust policy or one naming a user or
// role that does not exist, LimitExceeded for one over MaxTrustPolicyBytes,
// and ValidationError for bad names, paths or durations. The users and
// roles the trust policy names are bound to their unique IDs (see
// PrincipalID).
func (d *Directory) CreateRole(ctx context.Context, in RoleInput) (*Role, error) {
	if err := validName(in.Name, "roleName", 64); err != nil {
		return nil, err
	}
	if err := validPath(in.Path); err != nil {
		return nil, err
	}
	if in.MaxSessionDuration == 0 {
		in.MaxSessionDuration = int(DefaultSessionDuration / time.Second)
	}
	if in.MaxSessionDuration < 3600 || in.MaxSessionDuration > 43200 {
		return nil, validation("1 validation error detected: Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200", in.MaxSessionDuration)
	}
	trust, err := parseTrust(in.TrustPolicy)
	if err != nil {
		return nil, err
	}
	ids, err := d.bindTrust(ctx, trust)
	if err != nil {
		return nil, err
	}
	if in.Path == "" {
		in.Path = "/"
	}
	r := &Role{Account: in.Account, Name: in.Name, RoleID: newUniqueID("AROA"), Path: in.Path, Description: in.Description,
		TrustPolicy: in.TrustPolicy, TrustPrincipals: ids, MaxSessionDuration: in.MaxSessionDuration, Created: d.now().UTC().Truncate(time.Second),
		Declared: in.declared}
	if err := d.createEntity(ctx, roleOwner, in.Account, in.Name, r); err != nil {
		return nil, err
	}
	return r, nil
}

// GetRole returns a role, or NoSuchEntity.
func (d *Directory) GetRole(ctx context.Context, account, name string) (*Role, error) {
	r, _, err := d.getRole(ctx, account, name)
	return r, err
}

func (d *Directory) getRole(ctx context.Context, account, name string) (*Role, int64, error) {
	return getEntity[Role](ctx, d, roleOwner, account, name)
}

// ListRoles returns the roles of an account in name order.
func (d *Directory) ListRoles(ctx context.Context, account string) ([]*Role, error) {
	return listEntities[Role](ctx, d, roleOwner, account)
}

// UpdateTrustPolicy replaces a role's trust policy (UpdateAssumeRolePolicy),
// binding the users and roles it names to their unique IDs as CreateRole
// does.
func (d *Directory) UpdateTrustPolicy(ctx context.Context, account, name, doc string) error {
	trust, err := parseTrust(doc)
	if err != nil {
		return err
	}
	ids, err := d.bindTrust(ctx, trust)
	if err != nil {
		return err
	}
	return d.update(ctx, func() error {
		r, ver, err := d.getRole(ctx, account, name)
		if err != nil {
			return err
		}
		r.TrustPolicy, r.TrustPrincipals = doc, ids
		data, _ := json.Marshal(r)
		return d.store.Apply(ctx, store.Op{Kind: KindRole, ID: account + "/" + name, Data: data, IfVersion: ver})
	}, KindRole, account+"/"+name)
}

// DeleteRole deletes a role. It returns NoSuchEntity, or DeleteConflict
// while the role has inline policies. Sessions of the role keep working
// until they expire, with no permissions from the role (as in AWS).
func (d *Directory) DeleteRole(ctx context.Context, account, name string) error {
	return deleteEntity[Role](ctx, d, roleOwner, account, name, nil)
}

// Credentials are temporary credentials from AssumeRole.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// AssumedRole is the result of AssumeRole.
type AssumedRole struct {
	Credentials Credentials
	// AssumedRoleID is ROLEID:SESSIONNAME.
	AssumedRoleID string
	// ARN is arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSIONNAME.
	ARN string
}

// AssumeRoleInput is a request to assume a role.
type AssumeRoleInput struct {
	RoleARN     string
	SessionName string
	// Duration is the session length; 0 means DefaultSessionDuration.
	Duration time.Duration
	// ExternalID is the sts:ExternalId condition value, if the caller
	// passed one.
	ExternalID string
}

// AssumeRole issues temporary credentials for a role session to caller.
//
// The role's trust policy must allow caller sts:AssumeRole. When it names
// caller (or its role) directly and caller is in the role's account, that
// is enough; when it names caller's account, or caller is in another
// account, caller must also be its account's root or have an identity
// policy allowing sts:AssumeRole on the role. A missing role and any
// denial both return AccessDenied with AWS's message (so that role names
// cannot be probed). Duration outside MinSessionDuration..the role's
// maximum (one hour for a session assuming another role) is a
// ValidationError.
func (d *Directory) AssumeRole(ctx context.Context, caller *kms.Caller, in AssumeRoleInput) (*AssumedRole, error) {
	if err := validSessionName(in.SessionName); err != nil {
		return nil, err
	}
	if in.Duration == 0 {
		in.Duration = DefaultSessionDuration
	}
	secs := int(in.Duration / time.Second)
	if in.Duration < MinSessionDuration {
		return nil, validation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", secs)
	}
	if in.Duration > MaxSessionDuration {
		return nil, validation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", secs)
	}
	if len(in.RoleARN) < 20 || len(in.RoleARN) > 2048 {
		return nil, validation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", in.RoleARN)
	}
	denied := awserr.Newf(CodeAccessDenied, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, in.RoleARN)
	a, ok := arn.Parse(in.RoleARN)
	if !ok || a.Service != "iam" || !arn.ValidAccountID(a.Account) || !strings.HasPrefix(a.Resource, "role/") {
		return nil, validation("%s is invalid", in.RoleARN)
	}
	account, name := a.Account, arn.Name(a.Resource)
	role, err := d.GetRole(ctx, account, name)
	if err != nil {
		if e := awserr.As(err); e != nil {
			return nil, denied
		}
		return nil, err
	}
	if d.RoleARN(account, role.Name, role.Path) != in.RoleARN {
		return nil, denied
	}
	trust, err := parseTrust(role.TrustPolicy)
	if err != nil {
		return nil, denied
	}
	// The principals the trust policy names are the ones that existed when
	// it was stored: a user or role re-created under the same name is not.
	trust = trust.Bind(role.TrustPrincipals)
	pr := PolicyPrincipal(caller)
	cond := d.requestValues(caller)
	if in.ExternalID != "" {
		cond.Set("sts:ExternalId", in.ExternalID)
	}
	cond.Set("sts:RoleSessionName", in.SessionName)
	req := &policy.Request{Action: "sts:AssumeRole", Resource: in.RoleARN, Principal: pr, Context: cond}
	if trust.Evaluate(req, true) != policy.Allow {
		return nil, denied
	}
	// Evaluated without the account, only statements naming the caller
	// itself match: such a statement suffices within the role's account.
	req.Principal.Account = ""
	direct := trust.Evaluate(req, true) == policy.Allow
	if !(direct && caller.Account == account) && caller.Type != TypeRoot {
		if err := d.AuthorizeIAM(ctx, caller, "sts:AssumeRole", in.RoleARN); err != nil {
			if awserr.As(err) != nil {
				return nil, denied
			}
			return nil, err
		}
	}
	max := time.Duration(role.MaxSessionDuration) * time.Second
	if caller.Type == TypeAssumedRole && in.Duration > time.Hour {
		return nil, validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if in.Duration > max {
		return nil, validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	d.sweepSessions(ctx)
	now := d.now().UTC()
	k := AccessKey{ID: NewAccessKeyID(true), Secret: NewSecret(), Account: account, Type: TypeAssumedRole,
		RoleARN: in.RoleARN, SessionName: in.SessionName, SessionToken: newSessionToken(),
		Expires: now.Add(in.Duration).Truncate(time.Second), PrincipalID: role.RoleID + ":" + in.SessionName}
	// A session the role authorized after the principals file adopted it
	// is dated no earlier than the adoption's cut (SessionsNotBefore), so
	// that it gets the role's policies.
	if role.SessionsNotBefore.After(now) {
		k.Created = role.SessionsNotBefore
	}
	idx := store.Op{Kind: KindSession, ID: k.Expires.Format("20060102T150405Z") + "/" + k.ID, Data: []byte("{}")}
	if err := d.createAccessKey(ctx, k, idx); err != nil {
		return nil, err
	}
	// The file adopted the role after the trust policy above authorized
	// this session (perhaps for the role's previous owner): withdraw it.
	// The adoption's cut and revocation cover sessions written before it.
	if cur, err := d.GetRole(ctx, account, name); err == nil && !cur.SessionsNotBefore.Equal(role.SessionsNotBefore) {
		err := d.store.Apply(ctx, store.Op{Kind: KindAccessKey, ID: k.ID, Delete: true}, store.Op{Kind: KindSession, ID: idx.ID, Delete: true})
		d.keys.Invalidate(k.ID)
		if err != nil {
			return nil, err
		}
		return nil, denied
	}
	return &AssumedRole{
		Credentials:   Credentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret, SessionToken: k.SessionToken, Expiration: k.Expires},
		AssumedRoleID: k.PrincipalID,
		ARN:           fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", d.partition, account, role.Name, in.SessionName),
	}, nil
}

func validSessionName(s string) error {
	if len(s) < 2 {
		return validation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2", s)
	}
	return validName(s, "roleSessionName", 64)
}

// newSessionToken returns an opaque session token. Its value only needs to
// be unguessable: the verifier compares it with the stored one.
func newSessionToken() string {
	var b [96]byte
	rand.Read(b[:])
	return "Tr3nt" + base64.StdEncoding.EncodeToString(b[:])
}

// sweepSessions deletes a few expired temporary credentials; AssumeRole
// calls it so that expired sessions do not accumulate in the store.
func (d *Directory) sweepSessions(ctx context.Context) {
	recs, err := d.store.List(ctx, KindSession, "", "", 16)
	if err != nil {
		return
	}
	cut := d.now().UTC().Add(-time.Minute).Format("20060102T150405Z")
	var ops []store.Op
	for _, r := range recs {
		i := strings.IndexByte(r.ID, '/')
		if i < 0 || r.ID[:i] >= cut {
			break
		}
		ops = append(ops, store.Op{Kind: KindSession, ID: r.ID, Delete: true}, store.Op{Kind: KindAccessKey, ID: r.ID[i+1:], Delete: true})
	}
	if len(ops) > 0 {
		d.store.Apply(ctx, ops...)
	}
}
