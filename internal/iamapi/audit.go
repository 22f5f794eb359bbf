package iamapi

import (
	"net/http"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/audit"
)

// record writes the audit record of call c and returns once it is durable.
// Request parameters are the form fields (camelCased as CloudTrail shows
// them); response elements never contain secret access keys or session
// tokens.
func (h *Handler) record(r *http.Request, c *call) error {
	ev := &audit.Event{
		EventVersion: "1.11", EventTime: c.start.UTC().Format("2006-01-02T15:04:05Z"),
		EventSource: c.op.service + ".amazonaws.com", EventName: c.action, AWSRegion: h.region,
		SourceIPAddress: sourceIP(r), UserAgent: r.UserAgent(), RequestID: c.reqID, EventID: audit.NewEventID(),
		ReadOnly: c.op.readOnly, EventType: "AwsApiCall", ManagementEvent: true, EventCategory: "Management",
	}
	if c.op.service == "iam" {
		ev.AWSRegion = "us-east-1"
	}
	if c.caller != nil {
		u := &audit.UserIdentity{Type: c.caller.Type, PrincipalID: c.caller.PrincipalID, ARN: c.caller.ARN,
			AccountID: c.caller.Account, AccessKeyID: c.caller.AccessKeyID, UserName: c.caller.UserName}
		if c.caller.RoleARN != "" {
			u.SessionContext = &audit.SessionContext{SessionIssuer: &audit.SessionIssuer{Type: "Role", ARN: c.caller.RoleARN,
				AccountID: c.caller.Account, UserName: arn.Name(c.caller.RoleARN)}}
		}
		ev.UserIdentity = u
		ev.RecipientAccountID = c.caller.Account
	} else if c.akid != "" {
		ev.UserIdentity = &audit.UserIdentity{AccessKeyID: c.akid}
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
	if c.err != nil {
		ev.ErrorCode, ev.ErrorMessage = c.err.Code, c.err.Message
	} else {
		switch out := c.out.(type) {
		case *createAccessKeyResult:
			ev.ResponseElements = map[string]any{"accessKey": map[string]any{"accessKeyId": out.AccessKey.AccessKeyID,
				"status": out.AccessKey.Status, "userName": out.AccessKey.UserName, "createDate": out.AccessKey.CreateDate}}
		case *assumeRoleResult:
			ev.ResponseElements = map[string]any{
				"credentials":     map[string]any{"accessKeyId": out.Credentials.AccessKeyID, "expiration": out.Credentials.Expiration},
				"assumedRoleUser": map[string]any{"assumedRoleId": out.AssumedRoleUser.AssumedRoleID, "arn": out.AssumedRoleUser.Arn},
			}
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
	return h.audit.Append(r.Context(), ev)
}
