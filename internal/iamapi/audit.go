package iamapi

import (
	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/pipeline"
)

// Record implements pipeline.Codec: the query APIs' fields of the audit
// record. Request parameters are the form fields (camelCased as CloudTrail
// shows them); response elements never contain secret access keys or
// session tokens.
func (c *call) Record(_ *pipeline.Request, ev *audit.Event) {
	ev.EventSource, ev.EventName, ev.AWSRegion, ev.ReadOnly = c.op.service+".amazonaws.com", c.action, c.h.region, c.op.readOnly
	if c.op.service == "iam" {
		ev.AWSRegion = "us-east-1"
	}
	params := map[string]any{}
	for k, v := range c.form {
		// AWS's parameter names begin with an upper-case letter, and the
		// operations read only those. Another spelling (userName for
		// UserName) is no parameter: recording it under the camelCased
		// name too would let map order pick which of the two the record
		// shows, so the trail could name another user or policy than the
		// one the call acted on.
		if k == "Action" || k == "Version" || len(v) == 0 || k == "" || k[0] < 'A' || k[0] > 'Z' {
			continue
		}
		params[string(k[0]+'a'-'A')+k[1:]] = v[0]
	}
	if len(params) > 0 {
		ev.RequestParameters = params
	}
	if c.Err == nil {
		switch out := c.Out.(type) {
		case *createAccessKeyResult:
			ev.ResponseElements = map[string]any{"accessKey": map[string]any{"accessKeyId": out.AccessKey.AccessKeyID,
				"status": out.AccessKey.Status, "userName": out.AccessKey.UserName, "createDate": out.AccessKey.CreateDate}}
		case *assumeRoleResult:
			ev.ResponseElements = map[string]any{
				"credentials":     map[string]any{"accessKeyId": out.Credentials.AccessKeyID, "expiration": out.Credentials.Expiration},
				"assumedRoleUser": map[string]any{"assumedRoleId": out.AssumedRoleUser.AssumedRoleID, "arn": out.AssumedRoleUser.Arn},
			}
			// The role is the call's resource, as in CloudTrail's record.
			// Its trust policy allowed the call (Allowed): a role of
			// another account puts the call in that account's history too
			// (audit.OwnerCopies).
			ev.Resources = []audit.Resource{{AccountID: arn.Field(out.roleARN, 4), Type: "AWS::IAM::Role", ARN: out.roleARN, Allowed: true}}
		case *userResult:
			if !c.op.readOnly {
				ev.ResponseElements = map[string]any{"user": map[string]any{"userName": out.User.UserName, "userId": out.User.UserID, "arn": out.User.Arn}}
			}
		case *roleResult:
			if !c.op.readOnly {
				ev.ResponseElements = map[string]any{"role": map[string]any{"roleName": out.Role.RoleName, "roleId": out.Role.RoleID, "arn": out.Role.Arn}}
			}
		}
	}
}
