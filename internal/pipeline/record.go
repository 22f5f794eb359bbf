package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/kms"
)

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

// UserIdentity is the userIdentity of an audit record of c's call.
func UserIdentity(c *kms.Caller) *audit.UserIdentity {
	u := &audit.UserIdentity{
		Type: c.Type, PrincipalID: c.PrincipalID, ARN: c.ARN,
		AccountID: c.Account, AccessKeyID: c.AccessKeyID, UserName: c.UserName,
	}
	if c.Service != "" {
		// CloudTrail names a service by invokedBy; the account and access
		// key say which front end of it called.
		u.ARN, u.UserName, u.InvokedBy = "", "", c.ARN
	}
	if c.Type == "AssumedRole" {
		u.SessionContext = &audit.SessionContext{SessionIssuer: &audit.SessionIssuer{
			Type: "Role", ARN: c.RoleARN, AccountID: c.Account, UserName: arn.Name(c.RoleARN),
		}}
	}
	return u
}
