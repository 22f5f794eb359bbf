package server

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/wire"
)

// audit writes the record of call c and returns only when it is durable.
func (s *Server) audit(in *inbound, c *call) error {
	c.eventID = audit.NewEventID()
	ev := &audit.Event{
		EventVersion:    "1.11",
		EventTime:       eventTime(c.start),
		EventSource:     "kms.amazonaws.com",
		EventName:       c.name,
		AWSRegion:       s.cfg.Region,
		SourceIPAddress: in.remoteIP,
		UserAgent:       in.userAgent,
		RequestID:       c.reqID,
		EventID:         c.eventID,
		ReadOnly:        c.op == nil || c.op.ReadOnly,
		EventType:       "AwsApiCall",
		ManagementEvent: true,
		EventCategory:   "Management",
	}
	if c.caller != nil {
		ev.UserIdentity = userIdentity(c)
		ev.RecipientAccountID = c.caller.Account
	} else if c.akid != "" {
		ev.UserIdentity = &audit.UserIdentity{AccessKeyID: c.akid}
	}
	if in.tls {
		ev.TLSDetails = &audit.TLSDetails{ClientProvidedHostHeader: in.host}
	}
	// The parameters come from the input the operation decoded (none if
	// it was not decoded), never from a second parse of the body: the
	// record names what the operation acted on.
	if p, ok := c.in.(auditParameters); ok {
		ev.RequestParameters = p.AuditParameters()
	} else if c.in != nil {
		ev.RequestParameters = audit.SafeInput(c.name, c.in)
	}
	if len(c.trace.GrantIDs) > 0 {
		if ev.RequestParameters == nil {
			ev.RequestParameters = map[string]any{}
		}
		ev.RequestParameters["grantIds"] = c.trace.GrantIDs
	}
	for _, key := range resourceOrder(c) {
		account := arnAccount(key)
		ev.Resources = append(ev.Resources, audit.Resource{AccountID: account, Type: "AWS::KMS::Key", ARN: key})
		if ev.RecipientAccountID == "" {
			ev.RecipientAccountID = account
		}
	}
	if c.err != nil {
		ev.ErrorCode, ev.ErrorMessage = c.err.Code, c.err.Message
	} else if c.op != nil && !c.op.Crypto && !c.op.ReadOnly {
		ev.ResponseElements = responseElements(c.name, c.out)
	}
	return s.cfg.Audit.Append(in.ctx, ev)
}

// secondString is a Unix second and its CloudTrail time format.
type secondString struct {
	sec int64
	s   string
}

var lastSecond atomic.Pointer[secondString]

// eventTime formats t as CloudTrail does (UTC, second precision), reusing
// the string of the current second: thousands of records share it.
func eventTime(t time.Time) string {
	sec := t.Unix()
	if l := lastSecond.Load(); l != nil && l.sec == sec {
		return l.s
	}
	l := &secondString{sec: sec, s: t.UTC().Format("2006-01-02T15:04:05Z")}
	lastSecond.Store(l)
	return l.s
}

// resourceOrder returns the key ARNs of the call in CloudTrail's order: for
// ReEncrypt the source key comes before the destination key, although the
// destination key is resolved (and traced) first.
func resourceOrder(c *call) []string {
	arns := c.trace.KeyARNs
	o, ok := c.out.(*wire.ReEncryptOutput)
	if !ok || o == nil || len(arns) < 2 || arns[0] == o.SourceKeyID {
		return arns
	}
	out := make([]string, 0, len(arns))
	out = append(out, o.SourceKeyID)
	for _, a := range arns {
		if a != o.SourceKeyID {
			out = append(out, a)
		}
	}
	return out
}

func userIdentity(c *call) *audit.UserIdentity {
	u := &audit.UserIdentity{
		Type: c.caller.Type, PrincipalID: c.caller.PrincipalID, ARN: c.caller.ARN,
		AccountID: c.caller.Account, AccessKeyID: c.caller.AccessKeyID, UserName: c.caller.UserName,
	}
	if c.caller.Type == "AssumedRole" {
		u.SessionContext = &audit.SessionContext{SessionIssuer: &audit.SessionIssuer{
			Type: "Role", ARN: c.caller.RoleARN, AccountID: c.caller.Account,
			UserName: arn.Name(c.caller.RoleARN),
		}}
	}
	return u
}

// auditParameters is implemented by the inputs of hot operations, which
// describe themselves for the audit trail without a second decode of the
// body. The result must follow audit.SafeParameters' rules.
type auditParameters interface {
	AuditParameters() map[string]any
}

// responseElements returns the audit-safe response of a management call.
func responseElements(op string, out any) any {
	if out == nil {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || len(m) == 0 {
		return nil
	}
	return audit.SafeParameters(op, m)
}

// arnAccount returns the account field of an ARN
// (arn:partition:service:region:account:resource), or "" if it has fewer
// than six fields.
func arnAccount(s string) string {
	f, ok := arn.Split(s)
	if !ok {
		return ""
	}
	return f[4]
}
