package iam

import (
	"context"
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
)

// Error codes of the IAM and STS query APIs, as AWS names them. Errors this
// package returns to callers are *awserr.Error values carrying one of them.
const (
	CodeNoSuchEntity            = "NoSuchEntity"
	CodeEntityAlreadyExists     = "EntityAlreadyExists"
	CodeDeleteConflict          = "DeleteConflict"
	CodeLimitExceeded           = "LimitExceeded"
	CodeMalformedPolicyDocument = "MalformedPolicyDocument"
	CodeValidationError         = "ValidationError"
	CodeAccessDenied            = "AccessDenied"
	// CodeConcurrentModification: the record stayed contended for longer
	// than the retry budget (store.Update); the client may retry.
	CodeConcurrentModification = "ConcurrentModification"
)

// update runs fn through store.Update with this directory's locks of the
// records kind/id named in recs (pairs: kind, id, kind, id...), and reports
// a retry budget run out as AWS's ConcurrentModification.
func (d *Directory) update(ctx context.Context, fn func() error, recs ...string) error {
	names := make([]string, 0, len(recs)/2)
	for i := 0; i+1 < len(recs); i += 2 {
		names = append(names, recs[i]+"/"+recs[i+1])
	}
	err := store.Update(ctx, &d.locks, names, fn)
	if errors.Is(err, store.ErrContended) {
		return awserr.New(CodeConcurrentModification, "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.")
	}
	return err
}

func noSuchEntity(format string, a ...any) *awserr.Error {
	return awserr.New(CodeNoSuchEntity, fmt.Sprintf(format, a...))
}

func validation(format string, a ...any) *awserr.Error {
	return awserr.New(CodeValidationError, fmt.Sprintf(format, a...))
}

// validName checks an IAM user, role or policy name: 1..max characters of
// [\w+=,.@-], reporting AWS's validation message for field.
func validName(v, field string, max int) error {
	ok := len(v) >= 1 && len(v) <= max
	for i := 0; ok && i < len(v); i++ {
		c := v[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-'
	}
	if ok {
		return nil
	}
	if len(v) < 1 || len(v) > max {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, field, max)
	}
	return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", v, field)
}
