package iamapi

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/kms"
)

// operation is one entry of the API table.
type operation struct {
	service  string // "iam" or "sts": the SigV4 scope service and XML namespace
	action   string // the IAM action authorized before run; "" for none
	readOnly bool
	// deadline bounds the operation's run; defaultDeadline when zero.
	deadline time.Duration
	// secretResponse names the result members the audit trail never
	// records ("Outer.Inner"): Record builds responseElements from other
	// members only (audit_test.go holds it to this list).
	secretResponse []string
	// resource returns the ARN the action is authorized on: the target's
	// full ARN, path included, as AWS authorizes IAM actions.
	resource func(ctx context.Context, in *input) (string, error)
	run      func(ctx context.Context, in *input) (any, error)
}

// defaultDeadline is the deadline of an operation that sets none: a store
// update gives up after about 10 seconds (ConcurrentModification).
const defaultDeadline = 30 * time.Second

// input gives an operation its parameters. The first missing required
// parameter is remembered in err and reported instead of the result.
type input struct {
	form   url.Values
	caller *kms.Caller
	h      *Handler
	err    error
	// creates is set for CreateUser and CreateRole, whose target's path is
	// the Path parameter.
	creates bool
	// target is the user or role the request was authorized on, once the
	// resource was resolved (kind "" for none).
	targetKind, targetName, targetID string
}

// required returns a required parameter; field is its name in AWS's
// validation messages.
func (in *input) required(param, field string) string {
	v, ok := in.form[param]
	if (!ok || len(v) == 0) && in.err == nil {
		in.err = awserr.Newf(iam.CodeValidationError, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
		return ""
	}
	if !ok || len(v) == 0 {
		return ""
	}
	return v[0]
}

func (in *input) get(param string) string { return in.form.Get(param) }

func (in *input) account() string { return in.caller.Account }

// userName returns the UserName parameter, or the calling IAM user's own
// name when it is absent ("" for the root).
func (in *input) userName() string {
	if n := in.get("UserName"); n != "" {
		return n
	}
	if in.caller.Type == iam.TypeIAMUser {
		return in.caller.UserName
	}
	return ""
}

// userARN returns the ARN of the user the request targets (the UserName
// parameter, else the caller itself), with its path: that of the Path
// parameter for CreateUser, that of the existing user otherwise, "/" for a
// user that does not exist. The account root's ARN when no user is named.
func (in *input) userARN(ctx context.Context) (string, error) {
	n := in.userName()
	if n == "" {
		return fmt.Sprintf("arn:%s:iam::%s:root", in.h.dir.Partition(), in.account()), nil
	}
	path, err := in.targetPath(ctx, iam.KindUser, n)
	return in.h.dir.UserARN(in.account(), n, path), err
}

// roleARN is userARN for the role named by RoleName.
func (in *input) roleARN(ctx context.Context) (string, error) {
	n := in.get("RoleName")
	path, err := in.targetPath(ctx, iam.KindRole, n)
	return in.h.dir.RoleARN(in.account(), n, path), err
}

// targetPath returns the path of the user or role name of the caller's
// account that the request targets. Lookup failures other than "no such
// entity" are errors: authorizing on a path-less ARN instead would let a
// path-scoped Deny be bypassed.
func (in *input) targetPath(ctx context.Context, kind, name string) (string, error) {
	if in.creates {
		if p := in.get("Path"); p != "" {
			return p, nil
		}
		return "/", nil
	}
	var (
		path, id string
		err      error
	)
	if kind == iam.KindUser {
		var u *iam.User
		if u, err = in.h.dir.GetUser(ctx, in.account(), name); err == nil {
			path, id = u.Path, u.UserID
		}
	} else {
		var r *iam.Role
		if r, err = in.h.dir.GetRole(ctx, in.account(), name); err == nil {
			path, id = r.Path, r.RoleID
		}
	}
	if err != nil && awserr.As(err) == nil {
		return "", err
	}
	in.targetKind, in.targetName, in.targetID = kind, name, id
	if path == "" {
		path = "/"
	}
	return path, nil
}

func usersARN(_ context.Context, in *input) (string, error) {
	return fmt.Sprintf("arn:%s:iam::%s:user/", in.h.dir.Partition(), in.account()), nil
}
func rolesARN(_ context.Context, in *input) (string, error) {
	return fmt.Sprintf("arn:%s:iam::%s:role/", in.h.dir.Partition(), in.account()), nil
}

func userRes(ctx context.Context, in *input) (string, error) { return in.userARN(ctx) }
func roleRes(ctx context.Context, in *input) (string, error) { return in.roleARN(ctx) }

// errNonUser is AWS's answer when an assumed-role session omits UserName.
var errNonUser = awserr.New(iam.CodeValidationError, "Must specify userName when calling with non-User credentials")

// operations is the API table: action name -> operation.
var operations = map[string]*operation{
	"CreateUser": {service: "iam", action: "iam:CreateUser", resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		name := in.required("UserName", "userName")
		if in.err != nil {
			return nil, nil
		}
		u, err := in.h.dir.CreateUser(ctx, in.account(), name, in.get("Path"))
		if err != nil {
			return nil, err
		}
		return &userResult{User: in.h.user(u)}, nil
	}},
	"GetUser": {service: "iam", action: "iam:GetUser", readOnly: true, resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		name := in.userName()
		if name == "" {
			if in.caller.Type != iam.TypeRoot {
				return nil, errNonUser
			}
			// The root's own user: AWS answers with the account's root.
			return &userResult{User: xmlUser{UserID: in.account(), Arn: in.caller.ARN, CreateDate: isoTime(time.Unix(0, 0))}}, nil
		}
		u, err := in.h.dir.GetUser(ctx, in.account(), name)
		if err != nil {
			return nil, err
		}
		return &userResult{User: in.h.user(u)}, nil
	}},
	"ListUsers": {service: "iam", action: "iam:ListUsers", readOnly: true, resource: usersARN, run: func(ctx context.Context, in *input) (any, error) {
		us, err := in.h.dir.ListUsers(ctx, in.account())
		if err != nil {
			return nil, err
		}
		out := &listUsersResult{Users: make([]xmlUser, 0, len(us))}
		for _, u := range us {
			out.Users = append(out.Users, in.h.user(u))
		}
		return out, nil
	}},
	"DeleteUser": {service: "iam", action: "iam:DeleteUser", resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		name := in.required("UserName", "userName")
		if in.err != nil {
			return nil, nil
		}
		return nil, in.h.dir.DeleteUser(ctx, in.account(), name)
	}},
	"CreateAccessKey": {service: "iam", action: "iam:CreateAccessKey", secretResponse: []string{"AccessKey.SecretAccessKey"}, resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		name := in.userName()
		var (
			k      iam.AccessKeyInfo
			secret string
			err    error
		)
		switch {
		case name != "":
			k, secret, err = in.h.dir.CreateUserAccessKey(ctx, in.account(), name)
		case in.caller.Type == iam.TypeRoot:
			k, secret, err = in.h.dir.CreateRootAccessKey(ctx, in.account())
		default:
			return nil, errNonUser
		}
		if err != nil {
			return nil, err
		}
		return &createAccessKeyResult{AccessKey: xmlAccessKey{UserName: k.UserName, AccessKeyID: k.ID, Status: k.Status,
			SecretAccessKey: secret, CreateDate: isoTime(k.Created)}}, nil
	}},
	"ListAccessKeys": {service: "iam", action: "iam:ListAccessKeys", readOnly: true, resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		name := in.userName()
		if name == "" && in.caller.Type != iam.TypeRoot {
			return nil, errNonUser
		}
		ks, err := in.h.dir.ListAccessKeys(ctx, in.account(), name)
		if err != nil {
			return nil, err
		}
		out := &listAccessKeysResult{AccessKeyMetadata: make([]xmlAccessKeyMetadata, 0, len(ks))}
		for _, k := range ks {
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, xmlAccessKeyMetadata{UserName: k.UserName, AccessKeyID: k.ID, Status: k.Status, CreateDate: isoTime(k.Created)})
		}
		return out, nil
	}},
	"DeleteAccessKey": {service: "iam", action: "iam:DeleteAccessKey", resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		akid := in.required("AccessKeyId", "accessKeyId")
		if in.err != nil {
			return nil, nil
		}
		name := in.userName()
		if name == "" && in.caller.Type != iam.TypeRoot {
			return nil, errNonUser
		}
		return nil, in.h.dir.DeleteAccessKey(ctx, in.account(), name, akid)
	}},
	"UpdateAccessKey": {service: "iam", action: "iam:UpdateAccessKey", resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		akid, status := in.required("AccessKeyId", "accessKeyId"), in.required("Status", "status")
		if in.err != nil {
			return nil, nil
		}
		name := in.userName()
		if name == "" && in.caller.Type != iam.TypeRoot {
			return nil, errNonUser
		}
		return nil, in.h.dir.UpdateAccessKey(ctx, in.account(), name, akid, status)
	}},
	"PutUserPolicy": {service: "iam", action: "iam:PutUserPolicy", resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		user, name, doc := in.required("UserName", "userName"), in.required("PolicyName", "policyName"), in.required("PolicyDocument", "policyDocument")
		if in.err != nil {
			return nil, nil
		}
		return nil, in.h.dir.PutUserPolicy(ctx, in.account(), user, name, doc)
	}},
	"GetUserPolicy": {service: "iam", action: "iam:GetUserPolicy", readOnly: true, resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		user, name := in.required("UserName", "userName"), in.required("PolicyName", "policyName")
		if in.err != nil {
			return nil, nil
		}
		doc, err := in.h.dir.GetUserPolicy(ctx, in.account(), user, name)
		if err != nil {
			return nil, err
		}
		return &getUserPolicyResult{UserName: user, PolicyName: name, PolicyDocument: encodePolicy(doc)}, nil
	}},
	"DeleteUserPolicy": {service: "iam", action: "iam:DeleteUserPolicy", resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		user, name := in.required("UserName", "userName"), in.required("PolicyName", "policyName")
		if in.err != nil {
			return nil, nil
		}
		return nil, in.h.dir.DeleteUserPolicy(ctx, in.account(), user, name)
	}},
	"ListUserPolicies": {service: "iam", action: "iam:ListUserPolicies", readOnly: true, resource: userRes, run: func(ctx context.Context, in *input) (any, error) {
		user := in.required("UserName", "userName")
		if in.err != nil {
			return nil, nil
		}
		names, err := in.h.dir.ListUserPolicies(ctx, in.account(), user)
		if err != nil {
			return nil, err
		}
		return &listPoliciesResult{PolicyNames: names}, nil
	}},
	"CreateRole": {service: "iam", action: "iam:CreateRole", resource: roleRes, run: func(ctx context.Context, in *input) (any, error) {
		name, doc := in.required("RoleName", "roleName"), in.required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")
		if in.err != nil {
			return nil, nil
		}
		max := 0
		if s := in.get("MaxSessionDuration"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, awserr.Newf(iam.CodeValidationError, "Invalid value for MaxSessionDuration: %s", s)
			}
			max = n
		}
		r, err := in.h.dir.CreateRole(ctx, iam.RoleInput{Account: in.account(), Name: name, Path: in.get("Path"),
			Description: in.get("Description"), TrustPolicy: doc, MaxSessionDuration: max})
		if err != nil {
			return nil, err
		}
		x, err := in.h.role(ctx, r)
		return &roleResult{Role: x}, err
	}},
	"GetRole": {service: "iam", action: "iam:GetRole", readOnly: true, resource: roleRes, run: func(ctx context.Context, in *input) (any, error) {
		name := in.required("RoleName", "roleName")
		if in.err != nil {
			return nil, nil
		}
		r, err := in.h.dir.GetRole(ctx, in.account(), name)
		if err != nil {
			return nil, err
		}
		x, err := in.h.role(ctx, r)
		return &roleResult{Role: x}, err
	}},
	"ListRoles": {service: "iam", action: "iam:ListRoles", readOnly: true, resource: rolesARN, run: func(ctx context.Context, in *input) (any, error) {
		rs, err := in.h.dir.ListRoles(ctx, in.account())
		if err != nil {
			return nil, err
		}
		out := &listRolesResult{Roles: make([]xmlRole, 0, len(rs))}
		for _, r := range rs {
			x, err := in.h.role(ctx, r)
			if err != nil {
				return nil, err
			}
			out.Roles = append(out.Roles, x)
		}
		return out, nil
	}},
	"UpdateAssumeRolePolicy": {service: "iam", action: "iam:UpdateAssumeRolePolicy", resource: roleRes, run: func(ctx context.Context, in *input) (any, error) {
		name, doc := in.required("RoleName", "roleName"), in.required("PolicyDocument", "policyDocument")
		if in.err != nil {
			return nil, nil
		}
		return nil, in.h.dir.UpdateTrustPolicy(ctx, in.account(), name, doc)
	}},
	"DeleteRole": {service: "iam", action: "iam:DeleteRole", resource: roleRes, run: func(ctx context.Context, in *input) (any, error) {
		name := in.required("RoleName", "roleName")
		if in.err != nil {
			return nil, nil
		}
		return nil, in.h.dir.DeleteRole(ctx, in.account(), name)
	}},
	"PutRolePolicy": {service: "iam", action: "iam:PutRolePolicy", resource: roleRes, run: func(ctx context.Context, in *input) (any, error) {
		role, name, doc := in.required("RoleName", "roleName"), in.required("PolicyName", "policyName"), in.required("PolicyDocument", "policyDocument")
		if in.err != nil {
			return nil, nil
		}
		return nil, in.h.dir.PutRolePolicy(ctx, in.account(), role, name, doc)
	}},
	"GetRolePolicy": {service: "iam", action: "iam:GetRolePolicy", readOnly: true, resource: roleRes, run: func(ctx context.Context, in *input) (any, error) {
		role, name := in.required("RoleName", "roleName"), in.required("PolicyName", "policyName")
		if in.err != nil {
			return nil, nil
		}
		doc, err := in.h.dir.GetRolePolicy(ctx, in.account(), role, name)
		if err != nil {
			return nil, err
		}
		return &getRolePolicyResult{RoleName: role, PolicyName: name, PolicyDocument: encodePolicy(doc)}, nil
	}},
	"DeleteRolePolicy": {service: "iam", action: "iam:DeleteRolePolicy", resource: roleRes, run: func(ctx context.Context, in *input) (any, error) {
		role, name := in.required("RoleName", "roleName"), in.required("PolicyName", "policyName")
		if in.err != nil {
			return nil, nil
		}
		return nil, in.h.dir.DeleteRolePolicy(ctx, in.account(), role, name)
	}},
	"ListRolePolicies": {service: "iam", action: "iam:ListRolePolicies", readOnly: true, resource: roleRes, run: func(ctx context.Context, in *input) (any, error) {
		role := in.required("RoleName", "roleName")
		if in.err != nil {
			return nil, nil
		}
		names, err := in.h.dir.ListRolePolicies(ctx, in.account(), role)
		if err != nil {
			return nil, err
		}
		return &listPoliciesResult{PolicyNames: names}, nil
	}},
	// GetCallerIdentity needs no permission, as in AWS.
	"GetCallerIdentity": {service: "sts", readOnly: true, run: func(ctx context.Context, in *input) (any, error) {
		return &callerIdentityResult{UserID: in.caller.PrincipalID, Account: in.caller.Account, Arn: in.caller.ARN}, nil
	}},
	// AssumeRole is authorized by the role's trust policy and the caller's
	// identity policies inside iam.Directory.AssumeRole.
	"AssumeRole": {service: "sts", secretResponse: []string{"Credentials.SecretAccessKey", "Credentials.SessionToken"}, run: func(ctx context.Context, in *input) (any, error) {
		arn, session := in.required("RoleArn", "roleArn"), in.required("RoleSessionName", "roleSessionName")
		if in.err != nil {
			return nil, nil
		}
		var dur time.Duration
		if s := in.get("DurationSeconds"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, awserr.Newf(iam.CodeValidationError, "Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", s)
			}
			dur = time.Duration(n) * time.Second
		}
		// Session policies would narrow the session's permissions; ignoring
		// them would grant more than the caller asked for, so refuse them.
		if in.get("Policy") != "" || in.get("PolicyArns.member.1.arn") != "" {
			return nil, awserr.New(iam.CodeValidationError, "Session policies (Policy, PolicyArns) are not supported by Trent.")
		}
		res, err := in.h.dir.AssumeRole(ctx, in.caller, iam.AssumeRoleInput{RoleARN: arn, SessionName: session, Duration: dur, ExternalID: in.get("ExternalId")})
		if err != nil {
			return nil, err
		}
		out := &assumeRoleResult{Credentials: xmlCredentials{AccessKeyID: res.Credentials.AccessKeyID,
			SecretAccessKey: res.Credentials.SecretAccessKey, SessionToken: res.Credentials.SessionToken,
			Expiration: isoTime(res.Credentials.Expiration)}}
		out.AssumedRoleUser.AssumedRoleID = res.AssumedRoleID
		out.AssumedRoleUser.Arn = res.ARN
		out.roleARN = arn // the role's own ARN: AssumeRole refuses any other spelling
		return out, nil
	}},
}
