package iamapi

import (
	"context"

	"github.com/trentkms/trent/internal/iam"
)

// The XML shapes of results, named and ordered as botocore's models
// (iam 2010-05-08, sts 2011-06-15) name them.

type xmlUser struct {
	Path       string `xml:"Path"`
	UserName   string `xml:"UserName"`
	UserID     string `xml:"UserId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

type userResult struct {
	User xmlUser `xml:"User"`
}

type listUsersResult struct {
	Users       []xmlUser `xml:"Users>member"`
	IsTruncated bool      `xml:"IsTruncated"`
}

type xmlAccessKey struct {
	UserName        string `xml:"UserName,omitempty"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	CreateDate      string `xml:"CreateDate"`
}

type createAccessKeyResult struct {
	AccessKey xmlAccessKey `xml:"AccessKey"`
}

type xmlAccessKeyMetadata struct {
	UserName    string `xml:"UserName,omitempty"`
	AccessKeyID string `xml:"AccessKeyId"`
	Status      string `xml:"Status"`
	CreateDate  string `xml:"CreateDate"`
}

type listAccessKeysResult struct {
	AccessKeyMetadata []xmlAccessKeyMetadata `xml:"AccessKeyMetadata>member"`
	IsTruncated       bool                   `xml:"IsTruncated"`
	UserName          string                 `xml:"UserName,omitempty"`
}

type getUserPolicyResult struct {
	UserName       string `xml:"UserName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

type getRolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

type listPoliciesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool     `xml:"IsTruncated"`
}

type xmlRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	Description              string `xml:"Description,omitempty"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

type roleResult struct {
	Role xmlRole `xml:"Role"`
}

type listRolesResult struct {
	Roles       []xmlRole `xml:"Roles>member"`
	IsTruncated bool      `xml:"IsTruncated"`
}

type callerIdentityResult struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

type xmlCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleResult struct {
	Credentials     xmlCredentials `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	// roleARN is the role assumed, for the audit record's resources.
	roleARN string
}

func (h *Handler) user(u *iam.User) xmlUser {
	return xmlUser{Path: u.Path, UserName: u.Name, UserID: u.UserID, Arn: h.dir.UserARN(u.Account, u.Name, u.Path), CreateDate: isoTime(u.Created)}
}

// role returns the XML shape of r. Its trust policy shows the unique ID of
// a principal it names that no longer exists, as AWS shows it.
func (h *Handler) role(ctx context.Context, r *iam.Role) (xmlRole, error) {
	trust, err := h.dir.TrustPolicyView(ctx, r)
	if err != nil {
		return xmlRole{}, err
	}
	return xmlRole{Path: r.Path, RoleName: r.Name, RoleID: r.RoleID, Arn: h.dir.RoleARN(r.Account, r.Name, r.Path),
		CreateDate: isoTime(r.Created), AssumeRolePolicyDocument: encodePolicy(trust),
		Description: r.Description, MaxSessionDuration: r.MaxSessionDuration}, nil
}
